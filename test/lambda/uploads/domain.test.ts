/** The declaration checks every upload route runs before anything is created. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { MAX_HASHED_BYTES } from '../../../contract/api/uploads';
import { ValidationError } from '../../../lambda/shared/errors';
import { checkDeclared } from '../../../lambda/uploads/domain';

const saved = { ...process.env };
beforeEach(() => {
  process.env.CITADEL_MAX_UPLOAD_BYTES = String(5 * 1024 ** 4);
  process.env.CITADEL_ALLOWED_TYPES = 'application/pdf,application/octet-stream';
});
afterEach(() => {
  process.env = { ...saved };
});

const fieldsOf = (run: () => void): string[] => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return ((error as ValidationError).extra.errors ?? []).map((e) => e.path);
  }
  return [];
};

describe('checkDeclared', () => {
  const hash = 'a'.repeat(64);

  it('accepts a SHA-256 up to the size the scan can verify in time, and refuses it above', () => {
    expect(fieldsOf(() => checkDeclared(MAX_HASHED_BYTES, 'application/pdf', hash))).toEqual([]);
    expect(fieldsOf(() => checkDeclared(MAX_HASHED_BYTES + 1, 'application/pdf', hash))).toEqual(['sha256']);
    expect(fieldsOf(() => checkDeclared(MAX_HASHED_BYTES + 1, 'application/pdf'))).toEqual([]);
  });

  it("names every field at fault at once: the stage's maximum size, its types, the hash limit", () => {
    process.env.CITADEL_MAX_UPLOAD_BYTES = String(MAX_HASHED_BYTES);
    expect(fieldsOf(() => checkDeclared(MAX_HASHED_BYTES + 1, 'text/html', hash))).toEqual([
      'size',
      'sha256',
      'contentType',
    ]);
  });
});
