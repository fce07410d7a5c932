import {
  Aws,
  aws_cloudwatch as cloudwatch,
  Duration,
  aws_events as events,
  aws_iam as iam,
  aws_logs as logs,
  RemovalPolicy,
  Stack,
  type aws_sqs as sqs,
  aws_events_targets as targets,
} from 'aws-cdk-lib';
import {
  DashboardRenderingPreference,
  DefaultDashboardFactory,
  type IAlarmActionStrategy,
  MonitoringFacade,
} from 'cdk-monitoring-constructs';
import type { Construct } from 'constructs';
import { createRecoveryCodes, RECOVERY_METRICS, recoverAccount } from '../../contract/api/recovery';
import { scanTimeoutSeconds } from '../../contract/api/uploads';
import {
  FLOW_DIMENSION,
  METRICS_NAMESPACE,
  PROBE_METRICS,
  RESTORE_METRICS,
  ROTATION_METRICS,
  ROTATION_STEP_VALUES,
  SCAN_METRICS,
  SWEEP_METRICS,
  UPLOAD_FLOW,
  UPLOAD_METRICS,
} from '../../contract/metrics';
import { SCAN_OUTCOME_METRICS } from '../../contract/scan';
import { acknowledge, inPacks } from '../compliance';
import type { StageConfig } from '../config';
import { CitadelFunction } from '../constructs/citadel-function';
import { CitadelStack } from '../constructs/citadel-stack';
import { DeadLetters } from '../constructs/dead-letters';
import {
  AlarmCatalog,
  type AlarmMeaning,
  alarmNamePrefix,
  compositeAlarmName,
  FIVE_MINUTES,
  libraryThreshold,
} from '../constructs/monitoring/alarm-catalog';
import { AlertTopics } from '../constructs/monitoring/alert-topics';
import { HealthCanary } from '../constructs/monitoring/health-canary';
import { defaultMaxConnections, instanceMemoryGiB } from '../constructs/monitoring/rds-sizing';
import * as T from '../constructs/monitoring/thresholds';
import type { RegionalWebAcl } from '../constructs/regional-web-acl';
import type { ApiStack } from './api-stack';
import type { DataStack } from './data-stack';
import type { IdentityStack } from './identity-stack';
import type { NetworkStack } from './network-stack';
import type { StorageStack } from './storage-stack';

export interface ObservabilityStackProps {
  readonly config: StageConfig;
  readonly network: NetworkStack;
  readonly data: DataStack;
  readonly identity: IdentityStack;
  readonly storage: StorageStack;
  readonly api: ApiStack;
}

/** A Lambda function the stack watches, with the name its alarms and widgets use. */
interface Watched {
  readonly name: string;
  readonly fn: CitadelFunction;
  /** Invoked asynchronously, with a dead-letter queue (`DeadLetterErrors`). */
  readonly async: boolean;
}

const { GREATER_THAN_THRESHOLD: ABOVE, LESS_THAN_THRESHOLD: BELOW } = cloudwatch.ComparisonOperator;
const { BREACHING } = cloudwatch.TreatMissingData;
const GiB = 1024 ** 3;

/**
 * On-call for one stage: the critical (page) and warning (ticket) topics with their subscribers, one dashboard,
 * every alarm with its severity, action and runbook, the "unhealthy" composite that pages, the health probe and
 * (staging, prod) the canary. Standard service alarms and widgets come from cdk-monitoring-constructs; what it
 * lacks (Cognito, business rates, WAF by rule, EventBridge-driven alerts, the composite) is written here.
 */
export class ObservabilityStack extends CitadelStack {
  readonly topics: AlertTopics;
  readonly alarms: AlarmCatalog;
  readonly monitoring: MonitoringFacade;
  readonly dashboard: cloudwatch.Dashboard;
  readonly composite: cloudwatch.CompositeAlarm;
  /** Reads GuardDuty's plan status and the secrets' last rotation every 5 minutes. */
  readonly probe: CitadelFunction;
  readonly canary?: HealthCanary;
  /** Dead letters of the probe's schedule and of the alert rules. */
  readonly deadLetters: DeadLetters;
  private readonly props: ObservabilityStackProps;
  private readonly memoryWidgets: cloudwatch.IMetric[] = [];

  constructor(scope: Construct, props: ObservabilityStackProps) {
    super(scope, 'Observability', { config: props.config, stateful: false });
    this.props = props;
    const { config } = props;
    const { alerting, stage } = { alerting: config.alerting, stage: config.stage };

    this.deadLetters = new DeadLetters(this, 'DeadLetters');
    const undelivered = this.deadLetters.queue('AlertDeliveryDeadLetters', 'the alert topics’ subscriptions');
    this.topics = new AlertTopics(this, 'Topics', {
      alarmNamePatterns: [`${alarmNamePrefix(stage)}-*`, compositeAlarmName(stage)],
      emails: alerting.emails,
      smsNumbers: alerting.smsNumbers,
      slack: alerting.slack && { ...alerting.slack, name: `citadel-${stage}-alerts` },
      deadLetterQueue: undelivered,
    });
    // SNS moves undeliverable notifications to the (KMS-encrypted) queue as its service principal, for these two
    // topics only (SNS developer guide, "Amazon SNS dead-letter queues": encrypted queues).
    this.deadLetters.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlertTopicsSendUndeliveredNotifications',
        principals: [new iam.ServicePrincipal('sns.amazonaws.com')],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnEquals: { 'aws:SourceArn': [this.topics.critical.topicArn, this.topics.warning.topicArn] },
        },
      }),
    );
    this.alarms = new AlarmCatalog(this, 'Alarms', { stage, topics: this.topics });

    const noDefault: IAlarmActionStrategy = {
      addAlarmActions: ({ alarm }) => {
        throw new Error(
          `Alarm ${alarm.node.path} has no severity: key its threshold "Critical" or "Warning".`,
        );
      },
    };
    const dashboards = new DefaultDashboardFactory(this, 'Dashboards', {
      dashboardNamePrefix: `Citadel-${stage}`,
      createDashboard: true,
      createSummaryDashboard: false,
      createAlarmDashboard: false,
      renderingPreference: DashboardRenderingPreference.INTERACTIVE_ONLY,
      detailDashboardRange: Duration.hours(8),
    });
    this.monitoring = new MonitoringFacade(this, 'Monitoring', {
      alarmFactoryDefaults: {
        alarmNamePrefix: this.alarms.namePrefix,
        actionsEnabled: true,
        datapointsToAlarm: 1,
        evaluationPeriods: 1,
        action: noDefault,
        disambiguatorAction: {
          Critical: this.alarms.strategy('critical'),
          Warning: this.alarms.strategy('warning'),
        },
      },
      metricFactoryDefaults: { period: FIVE_MINUTES },
      dashboardFactory: dashboards,
    });

    this.monitoring.addWidget(this.runbookLinks());
    this.probe = this.addHealthProbe();
    if (alerting.canary) this.canary = this.addCanary();

    this.monitorApis();
    this.monitorIdentity();
    this.monitorUploads();
    this.monitorFunctions();
    this.monitorDatabase();
    this.monitorSecretsAndBackups();
    this.monitorWaf();
    // Last: it watches every dead-letter queue and rule above, this stack's alert rules included.
    this.monitorDeadLetters();

    this.composite = this.alarms.composite();
    this.dashboard = dashboards.dashboard as cloudwatch.Dashboard;
  }

  /** The text widget at the top: where the runbooks are, and what pages. */
  private runbookLinks(): cloudwatch.TextWidget {
    const { alerting, stage } = this.config;
    const link = (anchor: string, text: string) => `[${text}](${alerting.runbookUrl}#${anchor})`;
    return new cloudwatch.TextWidget({
      width: 24,
      height: 4,
      markdown: [
        `# Citadel ${stage}`,
        `The composite alarm **Citadel ${stage} unhealthy** is the page (${link('citadel-unhealthy', 'what to do')}); every other alarm files a ticket. Each alarm's description names its runbook section.`,
        `Runbooks: ${link('api-5xx', 'API errors')} · ${link('api-latency', 'latency')} · ${link('auth-failures', 'auth failures')} · ${link('upload-failures', 'uploads')} · ${link('malware-detected', 'malware')} · ${link('scan-failed', 'scans')} · ${link('function-errors', 'functions')} · ${link('database-unavailable', 'database')} · ${link('dead-letters', 'dead letters')} · ${link('rotation-failed', 'rotation')} · ${link('backup-failed', 'backups')} · ${link('restore-database', 'restore')} · ${link('canary-failed', 'canary')}`,
      ].join('\n\n'),
    });
  }

  // ---------------------------------------------------------------------------------------------- APIs

  private monitorApis(): void {
    const { api } = this.props;
    const apis: Array<[string, string, typeof api.api, logs.ILogGroup]> = [
      ['PublicApi', 'public', api.api, api.accessLogs.public],
      ['MachineApi', 'machine', api.machineApi, api.accessLogs.machine],
    ];
    this.monitoring.addLargeHeader('APIs');
    for (const [id, label, restApi, accessLogs] of apis) {
      this.monitoring.monitorApiGateway({
        api: restApi,
        apiStage: this.config.stage,
        humanReadableName: `${label} API`,
        alarmFriendlyName: id,
        add5XXFaultRateAlarm: {
          Critical: libraryThreshold(
            {
              severity: 'critical',
              runbook: 'api-5xx',
              summary: `More than 5% of the ${label} API's requests answered 5xx in 2 of the last 3 five-minute periods (periods with more than ${T.MIN_REQUESTS} requests only).`,
            },
            {
              maxErrorRate: T.API_5XX_RATE,
              minSampleCountToEvaluateDatapoint: T.MIN_REQUESTS,
              evaluationPeriods: 3,
              datapointsToAlarm: 2,
            },
          ),
        },
        addLatencyP99Alarm: {
          Warning: libraryThreshold(
            {
              severity: 'warning',
              runbook: 'api-latency',
              summary: `The ${label} API's p99 latency was above 2 s in 2 of the last 3 five-minute periods.`,
            },
            {
              maxLatency: Duration.millis(T.API_P99_WARNING_MS),
              minSampleCountToEvaluateDatapoint: T.MIN_REQUESTS,
              evaluationPeriods: 3,
              datapointsToAlarm: 2,
            },
          ),
          Critical: libraryThreshold(
            {
              severity: 'critical',
              runbook: 'api-latency',
              summary: `The ${label} API's p99 latency was above 5 s in 2 of the last 3 five-minute periods.`,
            },
            {
              maxLatency: Duration.millis(T.API_P99_CRITICAL_MS),
              minSampleCountToEvaluateDatapoint: T.MIN_REQUESTS,
              evaluationPeriods: 3,
              datapointsToAlarm: 2,
            },
          ),
        },
      });
      this.apiAuthFailures(id, label, restApi.restApiName, accessLogs);
    }
  }

  /**
   * 401/403 answers as a share of requests: the access logs carry the status, so a metric filter counts them; API
   * Gateway's `Count` is the denominator. API Gateway's own `4XXError` cannot tell 401/403 from 400/404/429.
   */
  private apiAuthFailures(id: string, label: string, apiName: string, accessLogs: logs.ILogGroup): void {
    const filter = new logs.MetricFilter(this, `${id}AuthDenials`, {
      logGroup: accessLogs,
      metricNamespace: METRICS_NAMESPACE,
      metricName: `${id}AuthDenials`,
      filterPattern: logs.FilterPattern.any(
        logs.FilterPattern.stringValue('$.status', '=', '401'),
        logs.FilterPattern.stringValue('$.status', '=', '403'),
      ),
      metricValue: '1',
    });
    const denied = filter.metric({ statistic: cloudwatch.Stats.SUM, period: FIVE_MINUTES });
    const requests = new cloudwatch.Metric({
      namespace: 'AWS/ApiGateway',
      metricName: 'Count',
      dimensionsMap: { ApiName: apiName, Stage: this.config.stage },
      statistic: cloudwatch.Stats.SUM,
      period: FIVE_MINUTES,
    });
    const rate = new cloudwatch.MathExpression({
      label: `${label} API: 401/403 (% of requests)`,
      expression: `IF(requests > ${T.MIN_REQUESTS}, 100 * FILL(denied, 0) / requests)`,
      usingMetrics: { denied, requests },
      period: FIVE_MINUTES,
    });
    const alarm = this.alarms.alarm(`${id}AuthFailureRate`, {
      name: `${id}-AuthFailure-Rate-Warning`,
      severity: 'warning',
      runbook: 'auth-failures',
      summary: `More than 20% of the ${label} API's requests were answered 401 or 403 in 2 of the last 3 five-minute periods (periods with more than ${T.MIN_REQUESTS} requests only).`,
      metric: rate,
      threshold: T.AUTH_FAILURE_PERCENT,
      comparisonOperator: ABOVE,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
    });
    this.graph(`${label} API: authentication failures`, [rate], alarm, '%');
  }

  // ---------------------------------------------------------------------------------------------- Cognito

  private monitorIdentity(): void {
    const { identity } = this.props;
    const dims = {
      UserPool: identity.userPool.userPoolId,
      UserPoolClient: identity.webClient.userPoolClientId,
    };
    const cognito = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/Cognito',
        metricName,
        dimensionsMap: dims,
        statistic,
        period: FIVE_MINUTES,
      });
    // SignInSuccesses is 1 per successful and 0 per failed sign-in: Sum counts successes, SampleCount attempts
    // (Cognito developer guide, "User pool metrics in CloudWatch").
    const successes = cognito('SignInSuccesses', cloudwatch.Stats.SUM);
    const attempts = cognito('SignInSuccesses', cloudwatch.Stats.SAMPLE_COUNT);
    const failureRate = new cloudwatch.MathExpression({
      label: 'Sign-ins failed (% of attempts)',
      expression: `IF(attempts > ${T.MIN_SIGN_INS}, 100 * (attempts - successes) / attempts)`,
      usingMetrics: { successes, attempts },
      period: FIVE_MINUTES,
    });
    this.monitoring.addLargeHeader('Sign-in (Cognito)');
    const alarm = this.alarms.alarm('CognitoSignInFailureRate', {
      name: 'Cognito-SignInFailure-Rate-Warning',
      severity: 'warning',
      runbook: 'auth-failures',
      summary: `More than 20% of sign-ins to the web client failed in 2 of the last 3 five-minute periods (periods with more than ${T.MIN_SIGN_INS} attempts only).`,
      metric: failureRate,
      threshold: T.AUTH_FAILURE_PERCENT,
      comparisonOperator: ABOVE,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
    });
    this.graph('Sign-in failure rate', [failureRate], alarm, '%');
    this.graph('Sign-ins and token refreshes', [
      successes.with({ label: 'Sign-ins succeeded' }),
      attempts.with({ label: 'Sign-in attempts' }),
      cognito('SignInThrottles', cloudwatch.Stats.SUM).with({ label: 'Sign-ins throttled' }),
      cognito('TokenRefreshSuccesses', cloudwatch.Stats.SUM).with({ label: 'Token refreshes' }),
      cognito('TokenRefreshThrottles', cloudwatch.Stats.SUM).with({ label: 'Token refreshes throttled' }),
    ]);
    this.monitorRecoveries();
    if (this.config.identity.threatProtection !== 'off') {
      // Threat protection (Plus plan) decisions, by risk level (Cognito: "Viewing threat protection metrics").
      const risk = (metricName: string, level: string) =>
        new cloudwatch.Metric({
          namespace: 'AWS/Cognito',
          metricName,
          dimensionsMap: { UserPoolId: identity.userPool.userPoolId, Operation: 'SignIn', RiskLevel: level },
          statistic: cloudwatch.Stats.SUM,
          period: FIVE_MINUTES,
          label: `${metricName} (${level})`,
        });
      this.graph('Risk decisions on sign-in', [
        ...['High', 'Medium', 'Low'].map((level) => risk('AccountTakeoverRisk', level)),
        risk('CompromisedCredentialRisk', 'High'),
        new cloudwatch.Metric({
          namespace: 'AWS/Cognito',
          metricName: 'OverrideBlock',
          dimensionsMap: { UserPoolId: identity.userPool.userPoolId, Operation: 'SignIn' },
          statistic: cloudwatch.Stats.SUM,
          period: FIVE_MINUTES,
          label: 'Blocked by override',
        }),
      ]);
    }
  }

  /**
   * Self-service recovery with a code (`POST /v1/auth/recover`): every recovery files a ticket, since each is a lost
   * authenticator or someone who holds a password and a code; the person confirms it was them.
   */
  private monitorRecoveries(): void {
    const hour = Duration.hours(1);
    // The handlers' EMF metrics carry the function's Powertools service name (`citadel-<operationId>`).
    const metric = (route: { operationId: string }, metricName: string, label: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: `citadel-${route.operationId}` },
        statistic: cloudwatch.Stats.SUM,
        period: hour,
        label,
      });
    const recovered = metric(recoverAccount, RECOVERY_METRICS.recovered, 'Accounts recovered with a code');
    const alarm = this.alarms.alarm('MfaRecoveries', {
      name: 'Identity-MfaRecoveries-Warning',
      severity: 'warning',
      runbook: 'lost-device-and-codes',
      summary:
        'An account was recovered with a recovery code in the last hour (its MFA reset, its sessions ended): confirm with the person that it was them.',
      metric: recovered,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    this.graph(
      'Recovery codes',
      [
        recovered,
        metric(recoverAccount, RECOVERY_METRICS.failed, 'Recoveries refused'),
        metric(recoverAccount, RECOVERY_METRICS.notNotified, 'Recovered, not emailed'),
        metric(createRecoveryCodes, RECOVERY_METRICS.issued, 'Code sets issued'),
      ],
      alarm,
    );
  }

  // ---------------------------------------------------------------------------------------------- uploads & scans

  private monitorUploads(): void {
    const { api, storage } = this.props;
    const uploads = storage.uploads;
    const flow = (metricName: string, statistic = cloudwatch.Stats.SUM, period = FIVE_MINUTES) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { [FLOW_DIMENSION]: UPLOAD_FLOW },
        statistic,
        period,
      });
    const service = (
      serviceName: string,
      metricName: string,
      statistic = cloudwatch.Stats.SUM,
      period = FIVE_MINUTES,
    ) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: serviceName },
        statistic,
        period,
      });
    const sweep = api.jobs.find((j) => j.serviceName === 'citadel-expire-uploads');
    if (!sweep)
      throw new Error('ObservabilityStack: the Api stack has no upload sweep job (citadel-expire-uploads).');

    this.monitoring.addLargeHeader('Uploads and scans');
    const hour = Duration.hours(1);
    const completed = flow(UPLOAD_METRICS.completed, cloudwatch.Stats.SUM, hour);
    const failed = flow(UPLOAD_METRICS.failed, cloudwatch.Stats.SUM, hour);
    const failureRate = new cloudwatch.MathExpression({
      label: 'Uploads failed (% of finished)',
      expression: `IF(FILL(completed, 0) + FILL(failed, 0) > ${T.MIN_FINISHED_UPLOADS}, 100 * FILL(failed, 0) / (FILL(completed, 0) + FILL(failed, 0)))`,
      usingMetrics: { completed, failed },
      period: hour,
    });
    const rateAlarm = this.alarms.alarm('UploadFailureRate', {
      name: 'Uploads-Failure-Rate-Warning',
      severity: 'warning',
      runbook: 'upload-failures',
      summary: `More than 20% of the uploads that finished in the last hour failed (hours with more than ${T.MIN_FINISHED_UPLOADS} finished uploads only).`,
      metric: failureRate,
      threshold: T.UPLOAD_FAILURE_PERCENT,
      comparisonOperator: ABOVE,
    });
    this.graph('Upload failure rate (hourly)', [failureRate], rateAlarm, '%');
    this.graph('Uploads', [
      flow(UPLOAD_METRICS.created).with({ label: 'Created' }),
      flow(UPLOAD_METRICS.completed).with({ label: 'Completed' }),
      flow(UPLOAD_METRICS.failed).with({ label: 'Failed' }),
      flow(UPLOAD_METRICS.aborted).with({ label: 'Aborted' }),
      service(sweep.serviceName, SWEEP_METRICS.expired).with({ label: 'Expired (sweep)' }),
      service(sweep.serviceName, SWEEP_METRICS.stuck).with({ label: 'Stuck (sweep)' }),
    ]);
    this.graph('Bytes uploaded', [flow(UPLOAD_METRICS.bytes).with({ label: 'Bytes uploaded' })]);
    this.graph('Scan outcomes', [
      ...Object.keys(SCAN_OUTCOME_METRICS).map((outcome) =>
        uploads.metricScanResults(outcome as keyof typeof SCAN_OUTCOME_METRICS).with({ label: outcome }),
      ),
      service(uploads.scanServiceName, SCAN_METRICS.orphans).with({ label: 'Orphan results' }),
    ]);

    // Scan outcomes straight from GuardDuty's result events, so a broken pipeline cannot hide malware.
    const scanResult = uploads.scanResultEventPattern();
    const withStatus = (statuses: string[]): events.EventPattern => ({
      ...scanResult,
      detail: {
        ...(scanResult.detail as Record<string, unknown>),
        scanResultDetails: { scanResultStatus: statuses },
      },
    });
    this.eventAlarm('MalwareFound', {
      severity: 'critical',
      runbook: 'malware-detected',
      summary:
        'GuardDuty found a threat in an uploaded object (the object is unreadable; the pipeline quarantines it).',
      pattern: withStatus(['THREATS_FOUND']),
      ticket:
        'GuardDuty found malware in <key> (bucket <bucket>): <status>. Citadel quarantines it; see docs/runbooks.md#malware-detected.',
      fields: {
        key: '$.detail.s3ObjectDetails.objectKey',
        bucket: '$.detail.s3ObjectDetails.bucketName',
        status: '$.detail.scanResultDetails.scanResultStatus',
      },
    });
    this.eventAlarm('ScanFailed', {
      severity: 'warning',
      runbook: 'scan-failed',
      summary:
        'GuardDuty could not scan an uploaded object (UNSUPPORTED, ACCESS_DENIED or FAILED): the file is held as scan_failed.',
      pattern: withStatus(['UNSUPPORTED', 'ACCESS_DENIED', 'FAILED']),
      ticket:
        'GuardDuty could not scan <key> (bucket <bucket>): <status>. The file is scan_failed; see docs/runbooks.md#scan-failed.',
      fields: {
        key: '$.detail.s3ObjectDetails.objectKey',
        bucket: '$.detail.s3ObjectDetails.bucketName',
        status: '$.detail.scanResultDetails.scanResultStatus',
      },
    });

    const stuck = service(sweep.serviceName, SWEEP_METRICS.stuck, cloudwatch.Stats.MAXIMUM, hour);
    this.alarms.alarm('StuckUploads', {
      name: 'Uploads-Stuck-Warning',
      severity: 'warning',
      runbook: 'stuck-uploads',
      summary:
        'The hourly sweep found uploads whose object exists at S3 but that never left uploading: their S3 and GuardDuty events were lost.',
      metric: stuck,
      threshold: 0,
      comparisonOperator: ABOVE,
    });
    const overdue = service(sweep.serviceName, SWEEP_METRICS.scansOverdue, cloudwatch.Stats.MAXIMUM, hour);
    const overdueAlarm = this.alarms.alarm('ScansOverdue', {
      name: 'Scans-Overdue-Warning',
      severity: 'warning',
      runbook: 'scan-overdue',
      summary: `At least one completed upload had no scan verdict ${scanTimeoutSeconds(this.config.uploads.maxUploadBytes)} s (the stage's scan timeout) after completion, at the hourly sweep.`,
      metric: overdue,
      threshold: 0,
      comparisonOperator: ABOVE,
    });
    this.graph('Scans overdue (hourly sweep)', [overdue], overdueAlarm);
    this.graph(
      'Scan latency: completion to verdict',
      ['p50', 'p99', 'Maximum'].map((stat) =>
        service(uploads.scanServiceName, SCAN_METRICS.latency, stat).with({ label: stat }),
      ),
      undefined,
      'ms',
    );
  }

  // ---------------------------------------------------------------------------------------------- functions

  private watchedFunctions(): Watched[] {
    const { api, data } = this.props;
    const watched: Watched[] = [
      ...[...api.functions.values()].map((fn) => ({ name: `Api-${fn.node.id}`, fn, async: false })),
      ...[...api.controls.values()].map((fn) => ({ name: `Api-${fn.node.id}`, fn, async: false })),
      ...api.jobs.map((fn) => ({ name: `Api-${fn.node.id}`, fn, async: true })),
      { name: `Api-${api.scanPipeline.node.id}`, fn: api.scanPipeline, async: true },
      ...data.rotations.map((fn) => ({ name: `Data-${fn.node.id}`, fn, async: false })),
      { name: `Data-${data.migrations.node.id}`, fn: data.migrations, async: false },
      { name: `Observability-${this.probe.node.id}`, fn: this.probe, async: true },
    ];
    if (data.restoreTesting) {
      const fn = data.restoreTesting.validation;
      watched.push({ name: `Data-${fn.node.id}`, fn, async: true });
    }
    return watched;
  }

  private monitorFunctions(): void {
    this.monitoring.addLargeHeader('Functions');
    for (const { name, fn, async } of this.watchedFunctions()) {
      this.monitoring.monitorLambdaFunction({
        lambdaFunction: fn,
        humanReadableName: `${name} (${fn.serviceName})`,
        alarmFriendlyName: name,
        addFaultCountAlarm: {
          Warning: libraryThreshold(
            {
              severity: 'warning',
              runbook: 'function-errors',
              summary: `${name} failed an invocation (an unhandled error or timeout) in the last 5 minutes.`,
            },
            { maxErrorCount: 0 },
          ),
        },
        addThrottlesCountAlarm: {
          Warning: libraryThreshold(
            {
              severity: 'warning',
              runbook: 'function-errors',
              summary: `Lambda throttled ${name} in the last 5 minutes (account or function concurrency exhausted).`,
            },
            { maxErrorCount: 0 },
          ),
        },
      });
      this.functionMemory(name, fn);
      if (async) {
        // Lambda's own dead-letter delivery failed: the event is gone (Lambda metrics, "DeadLetterErrors").
        this.alarms.alarm(`${name}DeadLetterErrors`, {
          name: `${name}-DeadLetterErrors-Critical`,
          severity: 'critical',
          runbook: 'dead-letter-delivery',
          summary: `Lambda could not put a failed asynchronous event of ${name} in its dead-letter queue: the event is lost.`,
          metric: fn.metric('DeadLetterErrors', { statistic: cloudwatch.Stats.SUM, period: FIVE_MINUTES }),
          threshold: 0,
          comparisonOperator: ABOVE,
        });
      }
    }
    this.monitoring.addWidget(
      new cloudwatch.GraphWidget({
        title: 'Peak memory, % of configured (every function)',
        width: 24,
        height: 8,
        left: this.memoryWidgets,
        leftYAxis: { min: 0, max: 100, label: '%', showUnits: false },
        leftAnnotations: [{ value: T.FUNCTION_MEMORY_PERCENT, label: 'alarm', color: '#d62728' }],
        legendPosition: cloudwatch.LegendPosition.RIGHT,
      }),
    );
  }

  /**
   * Peak memory against the configured size, from the `platform.report` line Lambda writes after each invocation
   * (JSON log format: `record.metrics.maxMemoryUsedMB`). The functions log system events at INFO for this.
   */
  private functionMemory(name: string, fn: CitadelFunction): void {
    const filter = new logs.MetricFilter(this, `${name}MemoryFilter`, {
      logGroup: fn.logGroup,
      metricNamespace: `${METRICS_NAMESPACE}/FunctionMemory`,
      metricName: name,
      filterPattern: logs.FilterPattern.stringValue('$.type', '=', 'platform.report'),
      metricValue: '$.record.metrics.maxMemoryUsedMB',
      unit: cloudwatch.Unit.MEGABYTES,
    });
    const used = filter.metric({ statistic: cloudwatch.Stats.MAXIMUM, period: FIVE_MINUTES });
    // Ids are unique across the dashboard's one memory graph, which draws every function.
    const id = `used${this.memoryWidgets.length}`;
    const percent = new cloudwatch.MathExpression({
      label: name,
      expression: `100 * ${id} / ${fn.memorySizeMiB}`,
      usingMetrics: { [id]: used },
      period: FIVE_MINUTES,
    });
    this.alarms.alarm(`${name}Memory`, {
      name: `${name}-Memory-Warning`,
      severity: 'warning',
      runbook: 'function-memory',
      summary: `An invocation of ${name} peaked above 90% of its ${fn.memorySizeMiB} MiB in the last 5 minutes.`,
      metric: percent,
      threshold: T.FUNCTION_MEMORY_PERCENT,
      comparisonOperator: ABOVE,
    });
    this.memoryWidgets.push(percent);
  }

  // ---------------------------------------------------------------------------------------------- database

  private monitorDatabase(): void {
    const { data } = this.props;
    const db = this.config.database;
    const memoryBytes = instanceMemoryGiB(db.instanceType) * GiB;
    const maxConnections = defaultMaxConnections(db.instanceType);
    this.monitoring.addLargeHeader('Database');
    this.monitoring.monitorRdsInstance({
      instance: data.instance,
      humanReadableName: `PostgreSQL (db.${db.instanceType})`,
      alarmFriendlyName: 'Database',
      addCpuUsageAlarm: {
        Warning: libraryThreshold(
          {
            severity: 'warning',
            runbook: 'database-cpu',
            summary: 'The database CPU was above 80% for 15 minutes.',
          },
          { maxUsagePercent: T.DB_CPU_PERCENT, evaluationPeriods: 3, datapointsToAlarm: 3 },
        ),
      },
      addFreeStorageSpaceAlarm: {
        Warning: libraryThreshold(
          {
            severity: 'warning',
            runbook: 'database-storage',
            summary: `The database's free storage fell below 15% of its ${db.allocatedStorageGiB} GiB allocation.`,
          },
          { minCount: Math.round(T.DB_FREE_STORAGE_FRACTION * db.allocatedStorageGiB * GiB) },
        ),
      },
      addMaxConnectionCountAlarm: {
        Warning: libraryThreshold(
          {
            severity: 'warning',
            runbook: 'database-connections',
            summary: `Database connections stayed above 80% of max_connections (about ${maxConnections} on db.${db.instanceType}) for 10 minutes.`,
          },
          {
            maxConnectionCount: Math.floor(T.DB_CONNECTIONS_FRACTION * maxConnections),
            evaluationPeriods: 2,
            datapointsToAlarm: 2,
          },
        ),
      },
    });
    const freeable = data.instance.metricFreeableMemory({
      statistic: cloudwatch.Stats.MINIMUM,
      period: FIVE_MINUTES,
    });
    const memoryAlarm = this.alarms.alarm('DatabaseFreeableMemory', {
      name: 'Database-FreeableMemory-Critical',
      severity: 'critical',
      runbook: 'database-memory',
      summary: `The database's freeable memory stayed below 10% of the ${instanceMemoryGiB(db.instanceType)} GiB of db.${db.instanceType} for 15 minutes.`,
      metric: freeable,
      threshold: Math.round(T.DB_FREEABLE_MEMORY_FRACTION * memoryBytes),
      comparisonOperator: BELOW,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
    });
    this.graph('Freeable memory', [freeable], memoryAlarm, 'bytes');

    const proxy = data.proxy;
    if (proxy) {
      const proxyMetric = (metricName: string, statistic: string = cloudwatch.Stats.SUM) =>
        new cloudwatch.Metric({
          namespace: 'AWS/RDS',
          metricName,
          dimensionsMap: { ProxyName: proxy.dbProxyName },
          statistic,
          period: FIVE_MINUTES,
        });
      const errors = new cloudwatch.MathExpression({
        label: 'Proxy connection errors',
        expression: 'FILL(database, 0) + FILL(auth, 0)',
        usingMetrics: {
          database: proxyMetric('DatabaseConnectionsSetupFailed'),
          auth: proxyMetric('ClientConnectionsSetupFailedAuth'),
        },
        period: FIVE_MINUTES,
      });
      const proxyAlarm = this.alarms.alarm('ProxyConnectionErrors', {
        name: 'DatabaseProxy-ConnectionErrors-Warning',
        severity: 'warning',
        runbook: 'proxy-connection-errors',
        summary:
          'RDS Proxy failed to open database connections, or refused clients on authentication or TLS, in the last 5 minutes.',
        metric: errors,
        threshold: 0,
        comparisonOperator: ABOVE,
      });
      this.graph('RDS Proxy: connection errors', [errors], proxyAlarm);
      this.graph('RDS Proxy: connections (client and database)', [
        proxyMetric('ClientConnections', cloudwatch.Stats.MAXIMUM).with({ label: 'client connections' }),
        proxyMetric('DatabaseConnections', cloudwatch.Stats.MAXIMUM).with({ label: 'database connections' }),
        proxyMetric('DatabaseConnectionsCurrentlySessionPinned', cloudwatch.Stats.MAXIMUM).with({
          label: 'pinned sessions',
        }),
      ]);
    }
  }

  // ---------------------------------------------------------------------------------------------- dead letters

  private monitorDeadLetters(): void {
    const { api, data } = this.props;
    this.monitoring.addLargeHeader('Dead letters');
    const queues: Array<[string, sqs.IQueue]> = [
      ...(api.deadLetters?.queues ?? []).map((q) => [`Api-${q.node.id}`, q] as [string, sqs.IQueue]),
      ...(data.deadLetters?.queues ?? []).map((q) => [`Data-${q.node.id}`, q] as [string, sqs.IQueue]),
      ...this.deadLetters.queues.map((q) => [`Observability-${q.node.id}`, q] as [string, sqs.IQueue]),
    ];
    for (const [name, queue] of queues) {
      this.monitoring.monitorSqsQueue({
        queue,
        humanReadableName: name,
        alarmFriendlyName: name,
        addQueueMaxSizeAlarm: {
          Critical: libraryThreshold(
            {
              severity: 'critical',
              runbook: name === 'Api-ScanDeadLetters' ? 'scan-dead-letters' : 'dead-letters',
              summary: `A message is waiting in the dead-letter queue ${name}: an event failed every retry and was not processed.`,
            },
            { maxMessageCount: 0 },
          ),
        },
      });
    }
    const rules: Array<[string, events.IRule]> = [
      ...api.deadLetterRules.map((r) => [`Api-${r.node.id}`, r] as [string, events.IRule]),
      ...data.deadLetterRules.map((r) => [`Data-${r.node.id}`, r] as [string, events.IRule]),
      ...this.ownDeadLetterRules.map((r) => [`Observability-${r.node.id}`, r] as [string, events.IRule]),
    ];
    for (const [name, rule] of rules) {
      // EventBridge could not put an undeliverable event in the rule's dead-letter queue: it is gone.
      this.alarms.alarm(`${name}DlqDeliveryFailed`, {
        name: `${name}-DlqDeliveryFailed-Critical`,
        severity: 'critical',
        runbook: 'dead-letter-delivery',
        summary: `EventBridge could not send an undeliverable event of the rule ${name} to its dead-letter queue: the event is lost.`,
        metric: this.ruleMetric(rule, 'InvocationsFailedToBeSentToDlq'),
        threshold: 0,
        comparisonOperator: ABOVE,
      });
    }
  }

  private readonly ownDeadLetterRules: events.Rule[] = [];

  private ruleMetric(rule: events.IRule, metricName: string, period = FIVE_MINUTES): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/Events',
      metricName,
      dimensionsMap: { RuleName: rule.ruleName },
      statistic: cloudwatch.Stats.SUM,
      period,
    });
  }

  // ---------------------------------------------------------------------------------------------- rotation, backups

  private monitorSecretsAndBackups(): void {
    const { data } = this.props;
    const db = this.config.database;
    this.monitoring.addLargeHeader('Rotation, backups, GuardDuty');

    for (const fn of data.rotations) {
      const steps = Object.fromEntries(
        ROTATION_STEP_VALUES.map((step, i) => [
          `s${i}`,
          new cloudwatch.Metric({
            namespace: METRICS_NAMESPACE,
            metricName: ROTATION_METRICS.failed,
            dimensionsMap: { service: fn.serviceName, Step: step },
            statistic: cloudwatch.Stats.SUM,
            period: FIVE_MINUTES,
            label: step,
          }),
        ]),
      );
      const failures = new cloudwatch.MathExpression({
        label: `${fn.serviceName}: failed steps`,
        expression: Object.keys(steps)
          .map((id) => `FILL(${id}, 0)`)
          .join(' + '),
        usingMetrics: steps,
        period: FIVE_MINUTES,
      });
      const alarm = this.alarms.alarm(`${fn.node.id}Failed`, {
        name: `Data-${fn.node.id}-Failed-Critical`,
        severity: 'critical',
        runbook: 'rotation-failed',
        summary: `A step of ${fn.serviceName} failed: the secret may be left with a pending version.`,
        metric: failures,
        threshold: 0,
        comparisonOperator: ABOVE,
      });
      this.graph(`Rotation: ${fn.serviceName} failed steps`, [failures], alarm);
    }

    const rotatedSecrets = this.rotatedSecrets();
    const overdueHours = db.rotationDays * 24 + T.ROTATION_GRACE_HOURS;
    const ages: cloudwatch.IMetric[] = [];
    for (const name of Object.keys(rotatedSecrets)) {
      const age = new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: PROBE_METRICS.rotationAgeHours,
        dimensionsMap: { service: this.probe.serviceName, secret: name },
        statistic: cloudwatch.Stats.MAXIMUM,
        period: Duration.minutes(15),
        label: `${name} (hours since rotation)`,
      });
      ages.push(age);
      this.alarms.alarm(`${name}RotationOverdue`, {
        name: `Secret-${name}-RotationOverdue-Critical`,
        severity: 'critical',
        runbook: 'rotation-overdue',
        summary: `The ${name} secret was last rotated more than ${db.rotationDays} days and a day ago (or the health probe stopped reporting it).`,
        metric: age,
        threshold: overdueHours,
        comparisonOperator: ABOVE,
        treatMissingData: BREACHING,
      });
    }
    this.graph('Hours since each secret was rotated', ages, undefined, 'h', overdueHours);

    const planActive = new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: PROBE_METRICS.malwareProtectionActive,
      dimensionsMap: { service: this.probe.serviceName },
      statistic: cloudwatch.Stats.MINIMUM,
      period: Duration.minutes(15),
    });
    const planAlarm = this.alarms.alarm('MalwareProtectionPlanInactive', {
      name: 'GuardDuty-MalwareProtectionPlan-NotActive-Critical',
      severity: 'critical',
      runbook: 'malware-protection-plan',
      summary:
        'GuardDuty reports the uploads bucket’s Malware Protection plan not ACTIVE (or the health probe stopped reporting it): new uploads are not being scanned.',
      metric: planActive,
      threshold: 1,
      comparisonOperator: BELOW,
      treatMissingData: BREACHING,
    });
    this.graph('GuardDuty Malware Protection plan active (1 = ACTIVE)', [planActive], planAlarm);

    const vault = data.backupVault;
    if (vault) {
      this.eventAlarm('BackupJobFailed', {
        severity: 'critical',
        runbook: 'backup-failed',
        summary:
          'An AWS Backup job of the database failed, aborted or expired: tonight has no recovery point.',
        pattern: {
          source: ['aws.backup'],
          detailType: ['Backup Job State Change'],
          detail: { state: ['FAILED', 'ABORTED', 'EXPIRED'], backupVaultName: [vault.backupVaultName] },
        },
        ticket:
          'AWS Backup job <job> for <resource> ended <state>: <message>. See docs/runbooks.md#backup-failed.',
        fields: {
          job: '$.detail.backupJobId',
          resource: '$.detail.resourceArn',
          state: '$.detail.state',
          message: '$.detail.statusMessage',
        },
      });
      this.eventAlarm('CopyJobFailed', {
        severity: 'critical',
        runbook: 'backup-failed',
        summary:
          'An AWS Backup copy job in this account failed: a recovery point was not copied where it should be.',
        pattern: {
          source: ['aws.backup'],
          detailType: ['Copy Job State Change'],
          detail: { state: ['FAILED'] },
        },
        ticket: 'AWS Backup copy job <job> failed: <message>. See docs/runbooks.md#backup-failed.',
        fields: { job: '$.detail.copyJobId', message: '$.detail.statusMessage' },
      });
    }
    if (data.restoreTesting) {
      this.eventAlarm('RestoreTestFailed', {
        severity: 'critical',
        runbook: 'restore-test-failed',
        summary: 'The weekly restore test of the database could not restore the latest recovery point.',
        pattern: {
          source: ['aws.backup'],
          detailType: ['Restore Job State Change'],
          detail: {
            status: ['FAILED'],
            restoreTestingPlanArn: [data.restoreTesting.plan.attrRestoreTestingPlanArn],
          },
        },
        ticket: 'Restore test job <job> failed: <message>. See docs/runbooks.md#restore-test-failed.',
        fields: { job: '$.detail.restoreJobId', message: '$.detail.statusMessage' },
      });
      const invalid = new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: RESTORE_METRICS.failed,
        dimensionsMap: { service: data.restoreTesting.validation.serviceName },
        statistic: cloudwatch.Stats.SUM,
        period: FIVE_MINUTES,
      });
      const invalidAlarm = this.alarms.alarm('RestoreValidationFailed', {
        name: 'RestoreTest-ValidationFailed-Critical',
        severity: 'critical',
        runbook: 'restore-test-failed',
        summary:
          'The weekly restore test restored the database but the restored copy failed validation (encryption, privacy or readable data).',
        metric: invalid,
        threshold: 0,
        comparisonOperator: ABOVE,
      });
      this.graph(
        'Restore tests',
        [
          invalid.with({ label: 'failed validation' }),
          new cloudwatch.Metric({
            namespace: METRICS_NAMESPACE,
            metricName: RESTORE_METRICS.succeeded,
            dimensionsMap: { service: data.restoreTesting.validation.serviceName },
            statistic: cloudwatch.Stats.SUM,
            period: FIVE_MINUTES,
            label: 'passed',
          }),
        ],
        invalidAlarm,
      );
    }
  }

  /** The secrets the probe watches, by the `secret` dimension it reports them under. */
  private rotatedSecrets(): Record<string, string> {
    const { data } = this.props;
    return {
      master: data.masterSecret.secretArn,
      ...(data.reportingSecret ? { reporting: data.reportingSecret.secretArn } : {}),
    };
  }

  // ---------------------------------------------------------------------------------------------- WAF

  private monitorWaf(): void {
    const { api, identity } = this.props;
    this.monitoring.addLargeHeader('WAF');
    const acls: Array<[string, RegionalWebAcl]> = [
      ['PublicApi', api.webAcl],
      ['MachineApi', api.machineWebAcl],
      ['UserPool', identity.webAcl],
    ];
    for (const [name, acl] of acls) {
      const allowed = acl.metricAllowedRequests();
      const blocked = acl.metricBlockedRequests();
      const share = new cloudwatch.MathExpression({
        label: `${name}: blocked (% of requests)`,
        expression: `IF(FILL(allowed, 0) + FILL(blocked, 0) > ${T.MIN_WAF_REQUESTS}, 100 * FILL(blocked, 0) / (FILL(allowed, 0) + FILL(blocked, 0)))`,
        usingMetrics: { allowed, blocked },
        period: FIVE_MINUTES,
      });
      const alarm = this.alarms.alarm(`${name}WafBlocked`, {
        name: `Waf-${name}-Blocked-Rate-Warning`,
        severity: 'warning',
        runbook: 'waf-blocked',
        summary: `The ${name} web ACL blocked more than ${this.config.alerting.wafBlockedPercent}% of its requests in 2 of the last 3 five-minute periods (periods with more than ${T.MIN_WAF_REQUESTS} requests only).`,
        metric: share,
        threshold: this.config.alerting.wafBlockedPercent,
        comparisonOperator: ABOVE,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
      });
      this.graph(`${name} WAF: blocked share`, [share], alarm, '%');
      this.graph(`${name} WAF: requests by rule`, [
        allowed.with({ label: 'allowed (all)' }),
        ...acl.ruleMetricNames.map((rule) =>
          acl.metricBlockedRequests(rule).with({ label: `blocked: ${rule}` }),
        ),
      ]);
    }
  }

  // ---------------------------------------------------------------------------------------------- probe, canary

  /** The health probe (GuardDuty plan status, secrets' last rotation), every 5 minutes, outside the VPC. */
  private addHealthProbe(): CitadelFunction {
    const { config, network, storage } = this.props;
    const queue = this.deadLetters.queue('ProbeDeadLetters', 'the health probe schedule');
    const fn = new CitadelFunction(this, 'HealthProbe', {
      entry: 'lambda/monitoring/health-probe.ts',
      serviceName: 'citadel-health-probe',
      description: 'Reports GuardDuty Malware Protection plan status and secret rotation age as metrics',
      logsKey: network.logsKey,
      logRetention: config.observability.logRetentionDays,
      logRemovalPolicy: config.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      logLevel: config.observability.logLevel,
      tracing: config.observability.tracing,
      timeout: Duration.seconds(30),
      invocation: 'async',
      deadLetterQueue: queue,
      environment: {
        CITADEL_STAGE: config.stage,
        CITADEL_MALWARE_PLAN_ARN: storage.uploads.malwareProtectionPlan.attrArn,
        CITADEL_MASTER_SECRET_ARN: this.props.data.masterSecret.secretArn,
        ...(this.props.data.reportingSecret
          ? { CITADEL_REPORTING_SECRET_ARN: this.props.data.reportingSecret.secretArn }
          : {}),
      },
    });
    acknowledge(
      fn,
      inPacks('LambdaInsideVPC', 'NIST.800.53.R5', 'HIPAA.Security'),
      'It only reads GuardDuty (no interface endpoint in the VPC) and secret metadata through the AWS APIs; it touches no data-tier resource.',
    );
    // GuardDuty has no L2 for Malware Protection plans: the one read the probe makes, on the one plan.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['guardduty:GetMalwareProtectionPlan'],
        resources: [storage.uploads.malwareProtectionPlan.attrArn],
      }),
    );
    // DescribeSecret reads metadata (rotation dates), never a value; no L2 grant offers just that.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:DescribeSecret'],
        resources: Object.values(this.rotatedSecrets()),
      }),
    );
    const rule = new events.Rule(this, 'HealthProbeSchedule', {
      description: 'Runs the Citadel health probe',
      schedule: events.Schedule.rate(Duration.minutes(5)),
      targets: [new targets.LambdaFunction(fn, { deadLetterQueue: queue, retryAttempts: 2 })],
    });
    this.ownDeadLetterRules.push(rule);
    return fn;
  }

  private addCanary(): HealthCanary {
    const { api, config } = this.props;
    const canary = new HealthCanary(this, 'HealthCanary', {
      stage: config.stage,
      apis: [
        { name: 'public', api: api.api },
        { name: 'machine', api: api.machineApi, apiKeyPlan: api.usagePlans.basic },
      ],
      artifactRetention: Duration.days(config.protectData ? 30 : 7),
      protectData: config.protectData,
    });
    this.monitoring.addLargeHeader('Health canary');
    this.monitoring.monitorSyntheticsCanary({
      canary: canary.canary,
      humanReadableName: 'GET /v1/health (both APIs)',
      alarmFriendlyName: 'Canary',
    });
    const success = canary.metricSuccessPercent();
    const alarm = this.alarms.alarm('CanaryFailed', {
      name: 'Canary-Failed-Critical',
      severity: 'critical',
      runbook: 'canary-failed',
      summary:
        'The health canary failed two runs in a row (or stopped running): GET /v1/health on an API did not answer 200 with the expected body and security headers.',
      metric: success,
      threshold: 100,
      comparisonOperator: BELOW,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      treatMissingData: BREACHING,
    });
    this.graph('Canary success', [success], alarm, '%');
    return canary;
  }

  // ---------------------------------------------------------------------------------------------- helpers

  /**
   * An EventBridge-driven alert: the rule sends a readable ticket to the warning topic, and an alarm on the rule's
   * `MatchedEvents` makes it an alarm like any other (critical ones join the composite that pages). A second alarm
   * watches the rule's own delivery (`FailedInvocations`).
   */
  private eventAlarm(
    id: string,
    props: AlarmMeaning & {
      readonly pattern: events.EventPattern;
      readonly ticket: string;
      readonly fields: Record<string, string>;
    },
  ): void {
    const rule = new events.Rule(this, `${id}Rule`, {
      description: props.summary.slice(0, 512),
      eventPattern: props.pattern,
    });
    const queue = this.deadLetterQueueForAlerts();
    const text = props.ticket.replace(/<(\w+)>/g, (_, field: string) => {
      const path = props.fields[field];
      if (!path)
        throw new Error(`Alert ${id}: the ticket names <${field}> but no field path is given for it.`);
      return events.EventField.fromPath(path);
    });
    rule.addTarget({
      // The topic and key policies already admit this stack's rules (conditioned): no unconditioned grant here.
      bind: () => ({
        arn: this.topics.warning.topicArn,
        id: 'Ticket',
        input: events.RuleTargetInput.fromText(text),
        deadLetterConfig: { arn: queue.queueArn },
        retryPolicy: { maximumRetryAttempts: 8 },
      }),
    });
    this.ownDeadLetterRules.push(rule);
    const alarm = this.alarms.alarm(`${id}Alarm`, {
      name: `${id}-${props.severity === 'critical' ? 'Critical' : 'Warning'}`,
      severity: props.severity,
      runbook: props.runbook,
      summary: props.summary,
      metric: this.ruleMetric(rule, 'MatchedEvents', Duration.minutes(15)),
      threshold: 0,
      comparisonOperator: ABOVE,
    });
    this.graph(id, [this.ruleMetric(rule, 'MatchedEvents', Duration.minutes(15))], alarm);
    this.alarms.alarm(`${id}TicketFailed`, {
      name: `${id}-TicketDeliveryFailed-Warning`,
      severity: 'warning',
      runbook: 'alert-delivery',
      summary: `EventBridge could not deliver the ${id} ticket to the warning topic (its alarm still fires).`,
      metric: this.ruleMetric(rule, 'FailedInvocations'),
      threshold: 0,
      comparisonOperator: ABOVE,
    });
  }

  private alertsQueue?: sqs.Queue;

  private deadLetterQueueForAlerts(): sqs.Queue {
    this.alertsQueue ??= (() => {
      const queue = this.deadLetters.queue('AlertDeadLetters', 'the alert rules');
      // EventBridge sends a rule's undeliverable events here as the events service, for this stack's rules only.
      queue.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal('events.amazonaws.com')],
          actions: ['sqs:SendMessage'],
          resources: [queue.queueArn],
          conditions: {
            StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
            ArnLike: {
              'aws:SourceArn': Stack.of(this).formatArn({
                service: 'events',
                resource: 'rule',
                resourceName: `${this.stackName}-*`,
              }),
            },
          },
        }),
      );
      return queue;
    })();
    return this.alertsQueue;
  }

  /** A graph on the dashboard, with the alarm's threshold drawn when there is one. */
  private graph(
    title: string,
    metrics: cloudwatch.IMetric[],
    alarm?: cloudwatch.Alarm,
    unit?: string,
    line?: number,
  ): void {
    const annotations: cloudwatch.HorizontalAnnotation[] = [];
    if (alarm) annotations.push(alarm.toAnnotation());
    if (line !== undefined) annotations.push({ value: line, label: 'overdue', color: '#d62728' });
    this.monitoring.addWidget(
      new cloudwatch.GraphWidget({
        title,
        width: 12,
        height: 6,
        left: metrics,
        leftAnnotations: annotations,
        leftYAxis: { min: 0, ...(unit ? { label: unit, showUnits: false } : {}) },
      }),
    );
  }
}
