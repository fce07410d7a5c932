import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { REDACTED, redact, redactString } from '../../lambda/shared/redact';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl';

describe('redact', () => {
  it('replaces values under sensitive keys at any depth', () => {
    const out = redact({
      headers: { Authorization: 'Bearer abc', 'x-api-key': 'k-123', accept: 'application/json' },
      db: { password: 'hunter2', host: 'db.local' },
      SecretString: '{"password":"p"}',
      list: [{ refreshToken: 'r' }],
    });
    expect(out).toEqual({
      headers: { Authorization: REDACTED, 'x-api-key': REDACTED, accept: 'application/json' },
      db: { password: REDACTED, host: 'db.local' },
      SecretString: REDACTED,
      list: [{ refreshToken: REDACTED }],
    });
  });

  it('masks JWTs, bearer tokens and presigned signatures inside free text', () => {
    const text = `token ${JWT} sent as Bearer abc.def and url https://s3/x?X-Amz-Credential=AK%2F1&X-Amz-Signature=deadbeef&partNumber=1`;
    const out = redactString(text);
    expect(out).not.toContain(JWT);
    expect(out).not.toContain('abc.def');
    expect(out).not.toContain('deadbeef');
    expect(out).not.toContain('AK%2F1');
    expect(out).toContain('partNumber=1');
  });

  it('survives cycles and deep nesting', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 50; i++) deep = { next: deep };
    expect(redact(a)).toEqual({ name: 'a', self: '[Circular]' });
    expect(JSON.stringify(redact(deep))).toContain('[Truncated]');
  });

  it('never lets an embedded JWT through, whatever surrounds it', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (before, after) => {
        expect(JSON.stringify(redact({ message: `${before} ${JWT} ${after}` }))).not.toContain(JWT);
      }),
    );
  });
});

describe('redact errors', () => {
  it('keeps name, message, code and stack of an Error, redacted', () => {
    const error = Object.assign(new Error(`connect failed for ${JWT}`), { code: 'ECONNREFUSED' });
    const out = redact({ error }) as { error: Record<string, unknown> };
    expect(out.error).toMatchObject({
      name: 'Error',
      code: 'ECONNREFUSED',
      message: `connect failed for ${REDACTED}`,
    });
    expect(String(out.error.stack)).toContain('redact.test');
    expect(JSON.stringify(out)).not.toContain(JWT);
  });
});
