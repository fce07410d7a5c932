import * as z from 'zod';
import { SCAN_RESULT_DETAIL_TYPE, SCAN_RESULT_STATUSES } from '../../contract/scan';

/**
 * `GuardDuty Malware Protection Object Scan Result`, as put on the default bus. Only the fields the
 * pipeline acts on are required; anything else GuardDuty adds is ignored.
 */
export const scanResultEvent = z.object({
  id: z.string(),
  'detail-type': z.literal(SCAN_RESULT_DETAIL_TYPE),
  source: z.literal('aws.guardduty'),
  detail: z.object({
    scanStatus: z.string(),
    resourceType: z.literal('S3_OBJECT'),
    s3ObjectDetails: z.object({
      bucketName: z.string().min(1),
      objectKey: z.string().min(1),
      eTag: z.string().optional(),
      versionId: z.string().optional(),
    }),
    scanResultDetails: z.object({
      scanResultStatus: z.enum(SCAN_RESULT_STATUSES),
      threats: z
        .array(z.object({ name: z.string() }))
        .nullish()
        .transform((t) => t ?? []),
    }),
  }),
});
export type ScanResultEvent = z.infer<typeof scanResultEvent>;

/**
 * S3's `Object Created` event on the default bus (the bucket sends all its events to EventBridge). It moves
 * an upload the browser completed directly at S3 (Uppy) out of `uploading` without waiting for the scan.
 */
export const objectCreatedEvent = z.object({
  id: z.string(),
  'detail-type': z.literal('Object Created'),
  source: z.literal('aws.s3'),
  detail: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1),
      size: z.number().int().nonnegative(),
      etag: z.string().optional(),
      'version-id': z.string().optional(),
    }),
    reason: z.string().optional(),
  }),
});
export type ObjectCreatedEvent = z.infer<typeof objectCreatedEvent>;
