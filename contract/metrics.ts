/**
 * Business metrics the handlers emit and the Observability stack graphs and alarms on: one list, so a renamed
 * metric cannot leave an alarm watching nothing.
 *
 * Each function emits its metrics with its own `service` dimension (Powertools' default). The upload outcomes
 * are recorded by several functions (the complete and get routes, the expiry job, the scan pipeline), and an
 * alarm can read at most 10 metrics, so they are also emitted once more with the single dimension
 * `flow = uploads`: the stage-wide series the upload-failure rate is computed from.
 */

/** Namespace of Citadel's own metrics (the handlers emit, and the alarms and dashboards read, this one). */
export const METRICS_NAMESPACE = 'Citadel';

/** Dimension of the stage-wide copies. */
export const FLOW_DIMENSION = 'flow';
/** The upload flow's value of `FLOW_DIMENSION`. */
export const UPLOAD_FLOW = 'uploads';

/** Upload outcomes, each counted once per file whichever function records it. */
export const UPLOAD_METRICS = {
  created: 'UploadsCreated',
  completed: 'UploadsCompleted',
  failed: 'UploadsFailed',
  aborted: 'UploadsAborted',
  bytes: 'BytesUploaded',
} as const;

/** Metrics that also go to the stage-wide `flow = uploads` series. */
export const UPLOAD_FLOW_METRICS: ReadonlySet<string> = new Set(Object.values(UPLOAD_METRICS));

/** Emitted by the hourly upload sweep (`service = citadel-expire-uploads`). */
export const SWEEP_METRICS = {
  expired: 'UploadsExpired',
  stuck: 'StuckUploads',
  /** Files completed longer ago than the stage's scan timeout and still without a verdict. */
  scansOverdue: 'ScansOverdue',
} as const;

/** Emitted by the scan pipeline (`service = citadel-scan`), besides the outcomes in `contract/scan.ts`. */
export const SCAN_METRICS = {
  /** Milliseconds from the upload's completion to its verdict. */
  latency: 'ScanLatency',
  orphans: 'ScanOrphans',
} as const;

/** Emitted by the health probe (`service = citadel-health-probe`). */
export const PROBE_METRICS = {
  /** 1 when GuardDuty reports the Malware Protection plan ACTIVE, else 0. */
  malwareProtectionActive: 'MalwareProtectionPlanActive',
  /** Hours since the secret (dimension `secret`) was last rotated. */
  rotationAgeHours: 'SecretRotationAgeHours',
} as const;

/** Emitted by the rotation Lambda, with dimensions `service` and `Step`. */
export const ROTATION_METRICS = { succeeded: 'RotationSucceeded', failed: 'RotationFailed' } as const;
/** The `Step` values the rotation Lambda reports (`invalid` for an event that is not a rotation step). */
export const ROTATION_STEP_VALUES = [
  'createSecret',
  'setSecret',
  'testSecret',
  'finishSecret',
  'invalid',
] as const;

/** Emitted by the restore-test validator (`service = citadel-restore-validation`). */
export const RESTORE_METRICS = { succeeded: 'RestoreTestSucceeded', failed: 'RestoreTestFailed' } as const;
