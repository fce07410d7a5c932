/**
 * S3 error model: every failure the server reports is an {@link S3Error}, rendered as S3's XML error body
 * (`<Error><Code/><Message/>…<Resource/><RequestId/></Error>`) with the matching HTTP status.
 */

/** An error that is reported to the client as an S3 XML error document. */
export class S3Error extends Error {
  /**
   * @param code S3 error code, e.g. `NoSuchKey`.
   * @param status HTTP status code.
   * @param message Human-readable message, as S3 words it.
   * @param details Extra elements added to the `<Error>` document (e.g. `Key`, `BucketName`).
   * @param headers Extra response headers (e.g. `Content-Range` for `InvalidRange`).
   */
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly details: Readonly<Record<string, string>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

/** Factories for the errors the server raises in several places. */
export const errors = {
  accessDenied: (message = 'Access Denied', details: Record<string, string> = {}) =>
    new S3Error('AccessDenied', 403, message, details),
  noSuchBucket: (bucket: string) =>
    new S3Error('NoSuchBucket', 404, 'The specified bucket does not exist', { BucketName: bucket }),
  noSuchKey: (key: string) =>
    new S3Error('NoSuchKey', 404, 'The specified key does not exist.', { Key: key }),
  noSuchUpload: (uploadId: string) =>
    new S3Error(
      'NoSuchUpload',
      404,
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      { UploadId: uploadId },
    ),
  invalidArgument: (message: string, name?: string, value?: string) =>
    new S3Error(
      'InvalidArgument',
      400,
      message,
      name === undefined ? {} : { ArgumentName: name, ArgumentValue: value ?? '' },
    ),
  invalidRequest: (message: string) => new S3Error('InvalidRequest', 400, message),
  malformedXml: () =>
    new S3Error(
      'MalformedXML',
      400,
      'The XML you provided was not well-formed or did not validate against our published schema',
    ),
  methodNotAllowed: (method: string, resource: string) =>
    new S3Error('MethodNotAllowed', 405, 'The specified method is not allowed against this resource.', {
      Method: method,
      ResourceType: resource,
    }),
  notImplemented: (what: string) =>
    new S3Error(
      'NotImplemented',
      501,
      `A header or query you provided implies functionality that is not implemented: ${what}`,
    ),
  badDigest: (what: string) =>
    new S3Error('BadDigest', 400, `The ${what} you specified did not match the calculated checksum.`),
  incompleteBody: () =>
    new S3Error(
      'IncompleteBody',
      400,
      'You did not provide the number of bytes specified by the Content-Length HTTP header',
    ),
  internal: () => new S3Error('InternalError', 500, 'We encountered an internal error. Please try again.'),
} as const;
