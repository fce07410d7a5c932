import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/**
 * Registers the cdk-nag v3 packs on the whole app. Any finding not acknowledged (next to the
 * construct it concerns, with a specific reason) fails synthesis.
 */
export function addComplianceGates(app: App): void {
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app),
    new NIST80053R5Checks(app),
    new HIPAASecurityChecks(app),
    new ServerlessChecks(app),
  );
}

/** Rule-pack prefixes as cdk-nag names them in finding ids. */
export type NagPack = 'AwsSolutions' | 'NIST.800.53.R5' | 'HIPAA.Security' | 'Serverless';

/**
 * Acknowledges specific findings on `scope` (and its children), each with the same written reason.
 * `findings` are full finding ids such as `AwsSolutions-IAM5[Resource::*]` or `HIPAA.Security-LambdaDLQ`.
 */
export function acknowledge(scope: IConstruct, findings: readonly string[], reason: string): void {
  if (reason.trim().length < 20)
    throw new Error(`Acknowledging ${findings.join(', ')} needs a specific reason.`);
  for (const id of findings) Validations.of(scope).acknowledge({ id, reason });
}

/** The same rule as it appears in several packs: `inPacks('LambdaDLQ', 'NIST.800.53.R5', 'Serverless')`. */
export const inPacks = (rule: string, ...packs: NagPack[]): string[] => packs.map((p) => `${p}-${rule}`);
