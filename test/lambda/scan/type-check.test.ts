import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { checkType, detectType, EXECUTABLE_TYPES } from '../../../lambda/scan/type-check';
import { UPLOAD_TYPES } from '../../../lib/config/upload-types';

const hex = (h: string, pad = 64) => Buffer.concat([Buffer.from(h, 'hex'), Buffer.alloc(pad)]);

/** Minimal, real signatures of types the default stage accepts. */
const SAMPLES: Record<string, Buffer> = {
  'application/pdf': Buffer.from('%PDF-1.7\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n'),
  'image/png': hex('89504e470d0a1a0a0000000d49484452'),
  'image/jpeg': hex('ffd8ffe000104a46494600010100000100010000'),
  'image/gif': Buffer.concat([Buffer.from('GIF89a'), Buffer.alloc(64)]),
  'application/gzip': hex('1f8b0800000000000003'),
  'application/zip': Buffer.concat([
    Buffer.from('504b0304', 'hex'),
    Buffer.alloc(26),
    Buffer.from('a.txt'),
    Buffer.alloc(64),
  ]),
};

describe('real-type check', () => {
  it.each(Object.entries(SAMPLES))('accepts %s content declared as itself', async (mime, bytes) => {
    const detected = await detectType(bytes);
    expect(detected?.mime).toBe(mime);
    expect(checkType(mime, detected)).toEqual({ ok: true, detected: mime });
  });

  it('rejects every sample declared as any other accepted type (except generic binary)', async () => {
    for (const [actual, bytes] of Object.entries(SAMPLES)) {
      const detected = await detectType(bytes);
      for (const declared of UPLOAD_TYPES) {
        if (declared === actual || declared === 'application/octet-stream') continue;
        const verdict = checkType(declared, detected);
        expect(verdict).toEqual({
          ok: false,
          detected: actual,
          reason: `declared ${declared}, but the content is ${actual}`,
        });
      }
      expect(checkType('application/octet-stream', detected)).toEqual({ ok: true, detected: actual });
    }
  });

  it('never accepts executables, whatever is declared', async () => {
    const elf = hex('7f454c46020101000000000000000000');
    const exe = Buffer.concat([
      Buffer.from('MZ'),
      Buffer.alloc(0x3a),
      Buffer.from([0x80, 0, 0, 0]),
      Buffer.alloc(0x40),
      Buffer.from('PE\0\0'),
      Buffer.alloc(64),
    ]);
    for (const bytes of [elf, exe]) {
      const detected = await detectType(bytes);
      expect(EXECUTABLE_TYPES.has(detected?.mime ?? '')).toBe(true);
      for (const declared of [...UPLOAD_TYPES, detected?.mime ?? '']) {
        const verdict = checkType(declared, detected);
        expect(verdict.ok).toBe(false);
        if (!verdict.ok) expect(verdict.reason).toContain('executable content');
      }
    }
  });

  it('needs a signature for every specific type: content nothing recognises passes only as generic binary', () => {
    for (const declared of UPLOAD_TYPES) {
      expect(checkType(declared, undefined).ok).toBe(declared === 'application/octet-stream');
    }
  });

  it('treats Office Open XML as ZIP, but not the reverse', () => {
    const docx = {
      ext: 'docx',
      mime: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    } as const;
    expect(checkType('application/zip', docx).ok).toBe(true);
    expect(checkType(docx.mime, { ext: 'zip', mime: 'application/zip' }).ok).toBe(false);
    expect(checkType('application/zip', { ext: 'jar', mime: 'application/java-archive' }).ok).toBe(false);
  });

  it('decides on arbitrary bytes without throwing, and only generic binary accepts unrecognised ones', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 4096 }),
        fc.constantFrom(...UPLOAD_TYPES),
        async (bytes, declared) => {
          const detected = await detectType(bytes);
          const verdict = checkType(declared, detected);
          if (verdict.ok) {
            expect(
              detected === undefined
                ? declared === 'application/octet-stream'
                : !EXECUTABLE_TYPES.has(detected.mime),
            ).toBe(true);
          } else {
            expect(verdict.reason.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
