/**
 * Parsing of database secrets, the alternating user names, and the connection guards: never echo a value.
 */
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { describeError } from '../../../lambda/rotation/db';
import { alternateUsername } from '../../../lambda/rotation/secret';
import { pgConnect } from '../../../lambda/shared/db/direct';
import { scramVerifier } from '../../../lambda/shared/db/scram';
import { nextSecretString, parseSecret } from '../../../lambda/shared/db/secret';

const valid = {
  engine: 'postgres',
  host: 'db.abc.eu-west-1.rds.amazonaws.com',
  port: 5432,
  username: 'citadel_reporting',
  password: 'S3cret-Value!x',
  dbname: 'citadel',
  masterarn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:master-AbCdEf',
  dbInstanceIdentifier: 'citadel-db',
};

describe('database secret parsing', () => {
  it('reads the RDS shape, keeps unknown fields for the next version, defaults dbname and accepts a string port', () => {
    // Act
    const secret = parseSecret(JSON.stringify({ ...valid, port: '5433', dbname: undefined }), 'AWSCURRENT');
    const next = JSON.parse(nextSecretString(secret, 'citadel_reporting_clone', 'n3w'));
    // Assess
    expect(secret).toMatchObject({ port: 5433, dbname: 'postgres', username: 'citadel_reporting' });
    expect(next).toEqual({
      ...valid,
      port: '5433',
      dbname: undefined,
      username: 'citadel_reporting_clone',
      password: 'n3w',
    });
  });

  it.each([
    ['not JSON', `{"password": "${valid.password}"`, /AWSCURRENT is not valid JSON$/],
    ['another engine', JSON.stringify({ ...valid, engine: 'mysql' }), /invalid field\(s\) engine$/],
    [
      'a bad port and no host',
      JSON.stringify({ ...valid, port: 'x', host: '' }),
      /invalid field\(s\) host, port$/,
    ],
    ['no password', JSON.stringify({ ...valid, password: undefined }), /invalid field\(s\) password$/],
    [
      'a password of the wrong type',
      JSON.stringify({ ...valid, password: 12345678 }),
      /invalid field\(s\) password$/,
    ],
  ])('refuses %s, naming fields but never values', (_name, text, message) => {
    // Act
    const error = (() => {
      try {
        parseSecret(text, 'AWSCURRENT');
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected a refusal');
    })();
    // Assess
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain(valid.password);
    expect(error.message).not.toContain('12345678');
  });

  it('alternates between <base> and <base>_clone, and back', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9_]{0,55}$/), (name) => {
        const other = alternateUsername(name);
        expect(other).not.toBe(name);
        expect(alternateUsername(other)).toBe(name);
        expect(other).toBe(name.endsWith('_clone') ? name.slice(0, -'_clone'.length) : `${name}_clone`);
      }),
    );
  });

  it('refuses a user name PostgreSQL would truncate or an empty base', () => {
    expect(() => alternateUsername('a'.repeat(58))).toThrow(/1 to 63 bytes/);
    expect(() => alternateUsername('_clone')).toThrow(/\(empty\)/);
  });
});

describe('connection guards', () => {
  it('refuses to connect through an RDS Proxy endpoint', async () => {
    await expect(
      pgConnect({
        host: 'citadel.proxy-abcdefghijkl.eu-west-1.rds.amazonaws.com',
        port: 5432,
        dbname: 'citadel',
        username: 'u',
        password: 'p',
      }),
    ).rejects.toThrow(/RDS Proxy endpoint; the secret must name the instance itself/);
  });

  it('describes errors with their SQLSTATE and masks every known secret value', () => {
    const error = Object.assign(new Error('syntax error at or near "hunter2-xyz"'), { code: '42601' });
    expect(describeError(error, ['hunter2-xyz'])).toBe('syntax error at or near "[REDACTED]" [42601]');
  });

  it('builds the SCRAM-SHA-256 verifier PostgreSQL would store, and only for printable ASCII', async () => {
    // Act
    const verifier = await scramVerifier('Pa55-word_!');
    // Assess: recompute StoredKey and ServerKey from the salt (RFC 5802).
    const match = /^SCRAM-SHA-256\$4096:([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(
      verifier,
    );
    expect(match).not.toBeNull();
    const [, salt, storedKey, serverKey] = match as RegExpExecArray;
    const salted = pbkdf2Sync('Pa55-word_!', Buffer.from(salt as string, 'base64'), 4096, 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    expect(createHash('sha256').update(clientKey).digest('base64')).toBe(storedKey);
    expect(createHmac('sha256', salted).update('Server Key').digest('base64')).toBe(serverKey);
    expect(await scramVerifier('Pa55-word_!')).not.toBe(verifier); // a fresh salt each time
    await expect(scramVerifier('with space')).rejects.toThrow(/printable ASCII/);
    await expect(scramVerifier('pässword')).rejects.toThrow(/printable ASCII/);
  });
});
