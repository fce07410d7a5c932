import { Aspects, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { StageConfig } from '../config';
import { StageRemovalPolicy } from './stage-removal-policy';

export interface CitadelStackProps extends StackProps {
  readonly config: StageConfig;
  /** Stateful stacks hold data: termination protection and RETAIN/SNAPSHOT where the stage protects data. */
  readonly stateful: boolean;
}

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
    Tags.of(this).add('Project', 'Citadel');
    Tags.of(this).add('Stage', config.stage);
    Tags.of(this).add('Owner', config.owner);
    if (stateful) Aspects.of(this).add(new StageRemovalPolicy(config.protectData));
  }
}
