/**
 * Network reachability, from the synthesized templates of every stage: each AWS API every function in the VPC
 * calls (the declaration in `lib/wiring/aws-calls.ts`, itself checked against the bundles) has a path in that
 * stage's egress mode — an interface endpoint, the S3 gateway endpoint, or NAT — and each database login has its
 * port open on both sides. Documented exceptions (the Cognito one) are data with their source. Each defect that
 * would cut a path is put back on a copy of the templates and reported.
 */
import { describe, expect, it } from '@jest/globals';
import { declaredFunctions } from '../../lib/wiring/aws-calls';
import { PATH_EXCEPTIONS, reachability } from '../support/wiring/reachability';
import { ALL_STAGES, type CfnResource, type StageTemplates, stageTemplates } from '../support/wiring/stages';

type Resources = Record<string, CfnResource>;
const resourcesOf = (stage: StageTemplates, name: string) =>
  stage.templates[stage.stackNames[name] as string]?.Resources as Resources;

/** A deep copy of a stage whose `stack` resources `edit` may change. */
function edited(name: string, stack: string, edit: (resources: Resources) => void): StageTemplates {
  const copy = structuredClone(stageTemplates(name as 'dev')) as StageTemplates;
  edit(resourcesOf(copy, stack));
  return copy;
}
const remove = (resources: Resources, match: (id: string, r: CfnResource) => boolean) => {
  for (const [id, r] of Object.entries(resources)) if (match(id, r)) delete resources[id];
};
const endpointFor = (service: string) => (_id: string, r: CfnResource) =>
  r.Type === 'AWS::EC2::VPCEndpoint' && JSON.stringify(r.Properties?.ServiceName).includes(`.${service}"`);

describe.each(ALL_STAGES)('reachability (%s)', (stage) => {
  it('every AWS call of every VPC function has a path, and every database login its port', () => {
    const report = reachability(stageTemplates(stage));
    console.info(
      `reachability ${stage}: ${report.checks.length} (function, service) paths checked over ${report.vpcFunctions.length} VPC functions; ${report.outsideVpc.length} functions outside the VPC (${report.outsideVpc.join(', ')})`,
    );
    expect(report.problems).toEqual([]);
    expect(report.vpcFunctions.length).toBeGreaterThan(20);
    expect(report.checks.every((c) => c.via !== undefined)).toBe(true);
  });

  it('uses the path its egress mode promises', () => {
    const { checks } = reachability(stageTemplates(stage));
    const via = (service: string) => new Set(checks.filter((c) => c.service === service).map((c) => c.via));
    expect(via('s3')).toEqual(new Set(['gateway-endpoint']));
    expect(via('postgres')).toEqual(new Set(['postgres']));
    const expected =
      stageTemplates(stage).config.network.egress === 'endpoints' ? 'interface-endpoint' : 'nat';
    for (const service of ['secretsmanager', 'lambda', 'xray'])
      expect(via(service)).toEqual(new Set([expected]));
  });
});

describe('reachability catches the defects it exists for', () => {
  it('prod: admin functions lose the control functions without the Lambda endpoint', () => {
    const broken = edited('prod', 'Network', (r) => remove(r, endpointFor('lambda')));
    const { problems } = reachability(broken);
    expect(problems).toContainEqual(
      expect.stringMatching(/^CreateApiClient → lambda \(Lambda Invoke\): no NAT route/),
    );
    expect(problems).toContainEqual(expect.stringMatching(/^ResetUserMfa → lambda/));
  });

  it('prod: restore validation cannot reach RDS or AWS Backup without their endpoints', () => {
    const broken = edited('prod', 'Network', (r) => {
      remove(r, endpointFor('rds'));
      remove(r, endpointFor('backup'));
    });
    const { problems } = reachability(broken);
    expect(problems).toEqual([
      expect.stringMatching(/^RestoreValidation → rds \(RDS DescribeDBInstances\)/),
      expect.stringMatching(/^RestoreValidation → backup \(Backup PutRestoreValidationResult\)/),
    ]);
  });

  it('prod: a Cognito endpoint does not serve a pool with a domain (documented exception)', () => {
    const withEndpoint = edited('prod', 'Network', (r) => {
      const [, lambdaEndpoint] = Object.entries(r).find(([id, res]) => endpointFor('lambda')(id, res)) as [
        string,
        CfnResource,
      ];
      const cognito = structuredClone(lambdaEndpoint);
      (cognito.Properties as Record<string, unknown>).ServiceName = {
        'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.cognito-idp']],
      };
      r.CognitoIdpEndpoint = cognito;
    });
    // A VPC function that called Cognito itself, as the MFA reset did before the control functions.
    const functions = declaredFunctions(withEndpoint.config).map((fn) =>
      fn.id === 'ResetUserMfa'
        ? {
            ...fn,
            calls: [
              ...(fn.calls ?? []),
              {
                sdk: { client: 'CognitoIdentityProvider' as const, command: 'AdminUserGlobalSignOut' },
                why: 'signs the user out everywhere',
                requests: [],
              },
            ],
          }
        : fn,
    );
    expect(reachability(withEndpoint, functions).problems).toEqual([
      expect.stringMatching(
        /^ResetUserMfa → cognito-idp .*does not serve it: a user pool with a domain .*vpc-interface-endpoints\.html/,
      ),
    ]);
    // Without the exception the same endpoint would count as a path: the documented exception is what refuses it.
    expect(PATH_EXCEPTIONS.find((e) => e.service === 'cognito-idp')?.source).toMatch(
      /vpc-interface-endpoints/,
    );
    expect(reachability(withEndpoint, functions, []).problems).toEqual([]);
  });

  it('staging: without the default route to NAT, nothing but S3 and the database is reachable', () => {
    const broken = edited('staging', 'Network', (r) =>
      remove(
        r,
        (_id, res) =>
          res.Type === 'AWS::EC2::Route' && JSON.stringify(res.Properties).includes('NatGatewayId'),
      ),
    );
    const { problems } = reachability(broken);
    expect(problems.length).toBeGreaterThan(10);
    expect(problems.every((p) => /→ (secretsmanager|lambda|xray|rds|backup) .*no NAT route/.test(p))).toBe(
      true,
    );
  });

  it('dev: a NAT instance that does not admit the functions cuts their egress', () => {
    const broken = edited('dev', 'Network', (r) =>
      remove(
        r,
        (_id, res) =>
          res.Type === 'AWS::EC2::SecurityGroupIngress' &&
          JSON.stringify(res.Properties).includes('NatSecurityGroup'),
      ),
    );
    expect(reachability(broken).problems).toContainEqual(
      expect.stringMatching(/→ secretsmanager .*no NAT route/),
    );
  });

  it('prod: an endpoint whose security group does not admit the functions is no path', () => {
    const broken = edited('prod', 'Network', (r) => {
      for (const res of Object.values(r)) {
        if (
          res.Type === 'AWS::EC2::SecurityGroup' &&
          JSON.stringify(res.Properties).includes('interface endpoints')
        )
          (res.Properties as Record<string, unknown>).SecurityGroupIngress = [];
      }
      remove(
        r,
        (_id, res) =>
          res.Type === 'AWS::EC2::SecurityGroupIngress' &&
          JSON.stringify(res.Properties).includes('EndpointSecurityGroup'),
      );
    });
    expect(reachability(broken).problems).toContainEqual(
      expect.stringMatching(/→ secretsmanager .*security group does not admit HTTPS from the function/),
    );
  });

  it('prod: a function whose security group does not let PostgreSQL out cannot log in', () => {
    const broken = edited('prod', 'Network', (r) => {
      for (const res of Object.values(r)) {
        if (res.Type !== 'AWS::EC2::SecurityGroup') continue;
        const egress = (res.Properties?.SecurityGroupEgress ?? []) as Array<{ FromPort?: number }>;
        (res.Properties as Record<string, unknown>).SecurityGroupEgress = egress.filter(
          (e) => e.FromPort !== 5432,
        );
      }
    });
    // And the rules the Data stack adds on the Lambda security group towards the database and the proxy.
    remove(resourcesOf(broken, 'Data'), (_id, res) => res.Type === 'AWS::EC2::SecurityGroupEgress');
    expect(reachability(broken).problems).toContainEqual(
      expect.stringMatching(/→ postgres .*does not let PostgreSQL out/),
    );
  });
});
