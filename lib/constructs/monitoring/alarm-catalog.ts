import { aws_cloudwatch_actions as actions, aws_cloudwatch as cloudwatch, Duration } from 'aws-cdk-lib';
import type { AlarmActionStrategyProps, IAlarmActionStrategy } from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import type { AlertTopics } from './alert-topics';

/**
 * `critical`: a member of the stage's "unhealthy" composite alarm, which is the one thing that pages.
 * `warning`: a ticket. Every member alarm, critical or not, files its ticket on the warning topic.
 */
export type Severity = 'critical' | 'warning';

/** Where every alarm description says its severity and runbook, in this exact form (`npm run alarms` reads it). */
export const DESCRIPTION_FORMAT = /^\[(critical|warning)\] (.+) Runbook: docs\/runbooks\.md#([a-z0-9-]+)$/s;

/** The description of an alarm: severity, what it means, and its runbook section. */
export function describeAlarm(severity: Severity, summary: string, runbook: string): string {
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(runbook)) {
    throw new Error(
      `Runbook anchor "${runbook}" must be a lower-case slug like "api-5xx" (a "## api-5xx" heading).`,
    );
  }
  const text = summary.trim();
  if (!text.endsWith('.'))
    throw new Error(`Alarm summary "${text}" must be a sentence ending with a period.`);
  return `[${severity}] ${text} Runbook: docs/runbooks.md#${runbook}`;
}

/** What an alarm is for: the metadata every alarm of the catalog carries. */
export interface AlarmMeaning {
  readonly severity: Severity;
  /** Anchor of its section in docs/runbooks.md. */
  readonly runbook: string;
  /** One sentence: what it means when it fires. */
  readonly summary: string;
}

export interface CatalogAlarmProps extends AlarmMeaning {
  /** The alarm's name after the stage prefix, e.g. `CognitoSignInFailureRate`. */
  readonly name: string;
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  readonly comparisonOperator: cloudwatch.ComparisonOperator;
  /** @default 1 */
  readonly evaluationPeriods?: number;
  /** @default evaluationPeriods */
  readonly datapointsToAlarm?: number;
  /** @default NOT_BREACHING: no data means nothing happened */
  readonly treatMissingData?: cloudwatch.TreatMissingData;
}

export interface AlarmCatalogProps {
  readonly stage: string;
  readonly topics: AlertTopics;
}

/** One alarm of the stage, as the catalog recorded it. */
export interface CatalogEntry extends AlarmMeaning {
  readonly alarm: cloudwatch.AlarmBase;
}

/** What every alarm of `stage` is named after (the alert topics' policy admits alarms by this prefix). */
export const alarmNamePrefix = (stage: string): string => `Citadel-${stage}`;

/** The name of `stage`'s composite alarm, the one that pages. */
export const compositeAlarmName = (stage: string): string => `Citadel ${stage} unhealthy`;

/**
 * Every alarm of a stage, in one place: the library's (through `strategy()`, the action strategy
 * cdk-monitoring-constructs calls for each alarm it creates) and the hand-written ones (`alarm()`). Each gets its
 * ticket action on the warning topic; `composite()` then builds "Citadel <stage> unhealthy" over the critical ones,
 * the only alarm whose action is the critical (paging) topic: one incident, one page.
 */
export class AlarmCatalog extends Construct {
  /** Every alarm name starts with this (the topic and key policies name alarms by it). */
  readonly namePrefix: string;
  /** The composite's name. */
  readonly compositeName: string;
  readonly entries: CatalogEntry[] = [];
  private readonly topics: AlertTopics;
  private compositeAlarm?: cloudwatch.CompositeAlarm;

  constructor(scope: Construct, id: string, props: AlarmCatalogProps) {
    super(scope, id);
    this.topics = props.topics;
    this.namePrefix = alarmNamePrefix(props.stage);
    this.compositeName = compositeAlarmName(props.stage);
  }

  /**
   * The action strategy for the library's alarms of `severity`: the alarm's `customParams` must carry its
   * `runbook` and `summary` (use `libraryThreshold`).
   */
  strategy(severity: Severity): IAlarmActionStrategy {
    return {
      addAlarmActions: (props: AlarmActionStrategyProps) => {
        const params = props.customParams ?? {};
        const { runbook, summary } = params as { runbook?: string; summary?: string };
        if (!runbook || !summary) {
          throw new Error(
            `Alarm ${props.alarm.node.path} has no runbook: give its threshold customParams { runbook, summary } (libraryThreshold()).`,
          );
        }
        this.register(props.alarm, { severity, runbook, summary });
      },
    };
  }

  /** A hand-written alarm (what the library lacks), registered like the library's. */
  alarm(id: string, props: CatalogAlarmProps): cloudwatch.Alarm {
    const evaluationPeriods = props.evaluationPeriods ?? 1;
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmName: `${this.namePrefix}-${props.name}`,
      alarmDescription: describeAlarm(props.severity, props.summary, props.runbook),
      metric: props.metric,
      threshold: props.threshold,
      comparisonOperator: props.comparisonOperator,
      evaluationPeriods,
      datapointsToAlarm: props.datapointsToAlarm ?? evaluationPeriods,
      treatMissingData: props.treatMissingData ?? cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.register(alarm, props);
    return alarm;
  }

  /** The critical alarms so far. */
  get critical(): cloudwatch.AlarmBase[] {
    return this.entries.filter((e) => e.severity === 'critical').map((e) => e.alarm);
  }

  /**
   * "Citadel <stage> unhealthy": in ALARM while any critical alarm is. It pages (critical topic) when it goes
   * to ALARM and tells the same subscribers when it recovers.
   */
  composite(): cloudwatch.CompositeAlarm {
    if (this.compositeAlarm) return this.compositeAlarm;
    const members = this.critical;
    if (members.length === 0) throw new Error('The composite alarm needs at least one critical alarm.');
    const composite = new cloudwatch.CompositeAlarm(this, 'Unhealthy', {
      compositeAlarmName: this.compositeName,
      alarmDescription: describeAlarm(
        'critical',
        'At least one critical alarm of the stage is in ALARM: this is the page. The member alarms (and their tickets) say which.',
        'citadel-unhealthy',
      ),
      alarmRule: cloudwatch.AlarmRule.anyOf(
        ...members.map((a) => cloudwatch.AlarmRule.fromAlarm(a, cloudwatch.AlarmState.ALARM)),
      ),
      actionsEnabled: true,
    });
    composite.addAlarmAction(new actions.SnsAction(this.topics.critical));
    composite.addOkAction(new actions.SnsAction(this.topics.critical));
    this.compositeAlarm = composite;
    return composite;
  }

  private register(alarm: cloudwatch.AlarmBase, meaning: AlarmMeaning): void {
    if (this.compositeAlarm)
      throw new Error(`Alarm ${alarm.node.path} was added after the composite was built.`);
    alarm.addAlarmAction(new actions.SnsAction(this.topics.warning));
    this.entries.push({ alarm, ...meaning });
  }
}

/**
 * A threshold for a cdk-monitoring-constructs alarm, carrying the catalog's metadata: the description (with the
 * runbook) and the `customParams` the catalog's strategy reads.
 */
export function libraryThreshold<T extends object>(
  meaning: AlarmMeaning,
  threshold: T,
): T & { alarmDescriptionOverride: string; customParams: Record<string, string> } {
  return {
    ...threshold,
    alarmDescriptionOverride: describeAlarm(meaning.severity, meaning.summary, meaning.runbook),
    customParams: { runbook: meaning.runbook, summary: meaning.summary, severity: meaning.severity },
  };
}

/** Five minutes: the period of most alarms (CloudWatch's standard resolution for most AWS metrics). */
export const FIVE_MINUTES = Duration.minutes(5);
