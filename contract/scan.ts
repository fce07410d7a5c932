/**
 * What the storage construct and the scan pipeline Lambda must agree on: GuardDuty's scan-result event
 * and tag values, and the metrics the pipeline counts its verdicts under.
 */

/** The object tag GuardDuty Malware Protection for S3 writes on every object it scans. */
export const SCAN_STATUS_TAG = 'GuardDutyMalwareScanStatus';

/** The scan results GuardDuty reports (tag value and `detail.scanResultDetails.scanResultStatus`). */
export const SCAN_RESULT_STATUSES = [
  'NO_THREATS_FOUND',
  'THREATS_FOUND',
  'UNSUPPORTED',
  'ACCESS_DENIED',
  'FAILED',
] as const;
export type ScanResultStatus = (typeof SCAN_RESULT_STATUSES)[number];

/** The only tag value that opens an object for reading. */
/** Namespace of the scan outcome metrics: Citadel's one namespace. */
export { METRICS_NAMESPACE } from './metrics';

export const SCAN_CLEAN: ScanResultStatus = 'NO_THREATS_FOUND';

/** `detail-type` of the event GuardDuty puts on the default bus after each object scan. */
export const SCAN_RESULT_DETAIL_TYPE = 'GuardDuty Malware Protection Object Scan Result';

/** What the scan pipeline decided about an object, and the metric it counts it under (dimension `service`). */
export const SCAN_OUTCOME_METRICS = {
  clean: 'ScanClean',
  infected: 'ScanInfected',
  rejected: 'ScanRejected',
  failed: 'ScanFailed',
} as const;
export type ScanOutcome = keyof typeof SCAN_OUTCOME_METRICS;
