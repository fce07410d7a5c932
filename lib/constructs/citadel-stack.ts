import { Aspects, Fn, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { Construct, IConstruct } from 'constructs';
import type { StageConfig } from '../config';
import { StageRemovalPolicy } from './stage-removal-policy';

export interface CitadelStackProps extends StackProps {
  readonly config: StageConfig;
  /** Stateful stacks hold data: termination protection and RETAIN/SNAPSHOT where the stage protects data. */
  readonly stateful: boolean;
}

/**
 * Types CDK's L1s offer tags for but CloudFormation's schema does not accept (cfn-lint E3002, "Additional
 * properties are not allowed ('Tags' was unexpected)"): the CloudFormation reference for
 * `AWS::RDS::DBProxyTargetGroup` and `AWS::CloudWatch::Dashboard` list no `Tags` property.
 */
const UNTAGGABLE = ['AWS::RDS::DBProxyTargetGroup', 'AWS::CloudWatch::Dashboard'] as const;

/** Base of every Citadel stack: `Citadel-<stage>-<Name>`, tags, and stage-aware data protection. */
export abstract class CitadelStack extends Stack {
  readonly config: StageConfig;

  constructor(scope: Construct, name: string, props: CitadelStackProps) {
    const { config, stateful, ...stackProps } = props;
    super(scope, `Citadel-${config.stage}-${name}`, {
      ...stackProps,
      env: config.env,
      terminationProtection: stateful && config.terminationProtection,
      description: stackProps.description ?? `Citadel ${name} (${config.stage})`,
    });
    this.config = config;
    for (const [key, value] of Object.entries({
      Project: 'Citadel',
      Stage: config.stage,
      Owner: config.owner,
    })) {
      Tags.of(this).add(key, value, { excludeResourceTypes: [...UNTAGGABLE] });
    }
    if (stateful) Aspects.of(this).add(new StageRemovalPolicy(config.protectData));
  }

  /**
   * Eight hex digits unique to this deployment of the stack (the start of the UUID in its stack id), resolved by
   * CloudFormation. Part of the physical name of every named resource that outlives its stack (RETAIN): a stack
   * deleted and created again then makes new names instead of failing with "already exists" on what its
   * predecessor left behind.
   */
  get deploymentSuffix(): string {
    return deploymentSuffix(this);
  }
}

/** `CitadelStack#deploymentSuffix` of the stack `scope` is in, for constructs that must not depend on CitadelStack. */
export function deploymentSuffix(scope: IConstruct): string {
  return Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', Stack.of(scope).stackId))));
}
