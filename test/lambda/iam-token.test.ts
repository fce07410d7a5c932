import { Signer } from '@aws-sdk/rds-signer';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { IAM_TOKEN_SECONDS, rdsAuthToken } from '../../lambda/shared/db/iam-token';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session',
};
const target = {
  hostname: 'citadel.proxy-abc123.eu-west-1.rds.amazonaws.com',
  port: 5432,
  username: 'citadel_app',
  region: 'eu-west-1',
};

afterEach(() => {
  jest.useRealTimers();
});

describe('RDS IAM auth token', () => {
  it('is exactly the token @aws-sdk/rds-signer produces for the same inputs and clock', async () => {
    jest.useFakeTimers({
      now: new Date('2026-11-22T04:30:00Z'),
      doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'],
    });
    const ours = await rdsAuthToken({ ...target, credentials });
    const reference = await new Signer({ ...target, credentials }).getAuthToken();
    expect(ours).toBe(reference);
  });

  it('presigns a 15-minute connect request for the user, host and port, without a scheme', async () => {
    const token = await rdsAuthToken({
      ...target,
      credentials,
      signingDate: new Date('2026-11-22T04:30:00Z'),
    });
    const url = new URL(`https://${token}`);
    expect(token.startsWith(`${target.hostname}:5432/?`)).toBe(true);
    expect(url.searchParams.get('Action')).toBe('connect');
    expect(url.searchParams.get('DBUser')).toBe('citadel_app');
    expect(url.searchParams.get('X-Amz-Expires')).toBe(String(IAM_TOKEN_SECONDS));
    expect(url.searchParams.get('X-Amz-Credential')).toBe(
      'AKIDEXAMPLE/20261122/eu-west-1/rds-db/aws4_request',
    );
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe('session');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it("uses the Lambda environment's credentials by default", async () => {
    const token = await rdsAuthToken(target);
    expect(new URL(`https://${token}`).searchParams.get('X-Amz-Credential')).toMatch(
      new RegExp(`^${process.env.AWS_ACCESS_KEY_ID}/`),
    );
  });
});
