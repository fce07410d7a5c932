import { describe, expect, it } from '@jest/globals';
import { loadStageConfig, STAGES, StageConfigError } from '../../lib/config';

describe('stage config', () => {
  it.each(STAGES)('loads and validates %s', (stage) => {
    const config = loadStageConfig(stage);
    expect(config.stage).toBe(stage);
    expect(config.env).toBeUndefined();
  });

  it('refuses an unknown stage and names the valid ones', () => {
    expect(() => loadStageConfig('production')).toThrow(StageConfigError);
    expect(() => loadStageConfig('production')).toThrow(/Unknown stage "production".*dev, staging, prod/);
  });

  it('pins account and region only together', () => {
    expect(loadStageConfig('dev', { account: '123456789012', region: 'eu-west-1' }).env).toEqual({
      account: '123456789012',
      region: 'eu-west-1',
    });
    expect(() => loadStageConfig('dev', { account: '123456789012' })).toThrow(/Pin both or neither/);
    expect(() => loadStageConfig('dev', { account: '12', region: 'eu-west-1' })).toThrow(
      /env\.account: .*12-digit/,
    );
  });

  it('reports every bad value with its path and how to fix it', () => {
    const attempt = () =>
      loadStageConfig('prod', {
        overrides: (c) => ({
          ...c,
          protectData: false,
          network: { ...c.network, egress: 'nat-instance', flowLogRetentionDays: 10 },
          api: { ...c.api, corsOrigins: ['*'], perIpRateLimit: { limit: 5, windowSeconds: 30 } },
        }),
      });
    expect(attempt).toThrow(StageConfigError);
    const message = (() => {
      try {
        attempt();
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(message).toContain('lib/config/prod.ts');
    expect(message).toMatch(
      /network\.flowLogRetentionDays: must be one of CloudWatch Logs' retention periods/,
    );
    expect(message).toMatch(/api\.corsOrigins\.0: CORS origins must be https/);
    expect(message).toMatch(/api\.perIpRateLimit\.limit: .*at least 10/);
    expect(message).toMatch(/api\.perIpRateLimit\.windowSeconds: WAF evaluates/);
    expect(message).toMatch(/protectData: prod must protect its data/);
    expect(message).toMatch(/network\.egress: prod must use egress 'endpoints'/);
  });

  it('refuses uploads larger than GuardDuty can scan (100 GB), and accepts ones at the limit', () => {
    const withMax = (maxUploadBytes: number) => () =>
      loadStageConfig('prod', { overrides: (c) => ({ ...c, uploads: { ...c.uploads, maxUploadBytes } }) });
    expect(withMax(100 * 1000 ** 3 + 1)).toThrow(
      /uploads\.maxUploadBytes: GuardDuty Malware Protection for S3 scans objects up to 100 GB/,
    );
    expect(withMax(100 * 1000 ** 3)).not.toThrow();
  });

  it('refuses a browser alias among the accepted upload types (declarations are compared by canonical name)', () => {
    const withTypes = (allowedContentTypes: string[]) => () =>
      loadStageConfig('dev', {
        overrides: (c) => ({ ...c, uploads: { ...c.uploads, allowedContentTypes } }),
      });
    expect(withTypes(['image/jpeg', 'image/jpg'])).toThrow(
      /uploads\.allowedContentTypes\.1: image\/jpg is an alias: list image\/jpeg/,
    );
    expect(withTypes(['image/jpeg', 'application/zip'])).not.toThrow();
  });

  it('keeps plain-http localhost origins to dev', () => {
    expect(() =>
      loadStageConfig('staging', {
        overrides: (c) => ({ ...c, api: { ...c.api, corsOrigins: ['http://localhost:3000'] } }),
      }),
    ).toThrow(/only dev may allow plain-http/);
  });

  describe('the SES sender', () => {
    const withSes = (stage: 'dev' | 'staging' | 'prod', ses: unknown) => () =>
      loadStageConfig(stage, {
        overrides: (c) => ({ ...c, identity: { ...c.identity, ses } as typeof c.identity }),
      });

    it.each(['staging', 'prod'] as const)(
      "refuses %s on Cognito's default email, saying what to set",
      (stage) => {
        expect(withSes(stage, undefined)).toThrow(
          new RegExp(
            `identity\\.ses: ${stage} is a protected stage and must not rely on Cognito's default email .*set identity\\.ses to a verified SES identity, from-address, region and configuration set`,
          ),
        );
        // With a sender (the shipped placeholders), the same stage loads.
        expect(loadStageConfig(stage).identity.ses?.configurationSet).toBe(`citadel-${stage}`);
      },
    );

    it("lets dev use Cognito's default email", () => {
      expect(loadStageConfig('dev').identity.ses).toBeUndefined();
    });

    it('refuses a from-address the identity does not verify, and a malformed configuration set', () => {
      const base = loadStageConfig('prod').identity.ses;
      expect(withSes('prod', { ...base, fromAddress: 'no-reply@other.example.org' })).toThrow(
        /identity\.ses\.fromAddress: fromAddress must be the identity .* SES sends only from verified identities/,
      );
      expect(
        withSes('prod', {
          ...base,
          identity: 'alerts@citadel.example.com',
          fromAddress: 'no-reply@citadel.example.com',
        }),
      ).toThrow(/identity\.ses\.fromAddress/);
      expect(withSes('prod', { ...base, configurationSet: 'has spaces' })).toThrow(
        /identity\.ses\.configurationSet: an SES configuration set name/,
      );
      expect(withSes('prod', { ...base, configurationSet: undefined })).toThrow(
        /identity\.ses\.configurationSet/,
      );
      // An address identity sending as itself is fine.
      expect(
        withSes('prod', {
          ...base,
          identity: 'no-reply@citadel.example.com',
          fromAddress: 'No-Reply@citadel.example.com',
        })().identity.ses?.identity,
      ).toBe('no-reply@citadel.example.com');
    });
  });
});
