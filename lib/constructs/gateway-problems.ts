import { aws_apigateway as apigw } from 'aws-cdk-lib';
import { PROBLEM_CONTENT_TYPE, SECURITY_HEADERS } from '../../contract/http';
import { PROBLEM_TYPES, type ProblemKind, problemTypeUri } from '../../contract/problems';

/** A VTL problem+json body; `detail` comes from API Gateway's own (already quoted) error message. */
export const problemTemplate = (kind: ProblemKind, status: number = PROBLEM_TYPES[kind].status): string =>
  `{"type":"${problemTypeUri(kind)}","title":"${PROBLEM_TYPES[kind].title}","status":${status},` +
  '"detail":$context.error.messageString,"instance":"$context.requestId"}';

/**
 * Static header values in the quoted form API Gateway mappings expect; inner single quotes (the CSP's
 * `'none'`) are backslash-escaped, as API Gateway's static-value syntax requires.
 */
export const quotedHeaders = (headers: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, `'${v.replace(/'/g, "\\'")}'`]));

/** API Gateway's own responses, each mapped to a problem type and status. */
const GATEWAY_RESPONSES: ReadonlyArray<[apigw.ResponseType, ProblemKind, number?]> = [
  [apigw.ResponseType.DEFAULT_4XX, 'badRequest'],
  [apigw.ResponseType.DEFAULT_5XX, 'internal'],
  [apigw.ResponseType.BAD_REQUEST_BODY, 'validation'],
  [apigw.ResponseType.BAD_REQUEST_PARAMETERS, 'validation'],
  // API Gateway answers an unknown path with "Missing Authentication Token"; to a client it is a 404.
  [apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, 'notFound', 404],
  [apigw.ResponseType.RESOURCE_NOT_FOUND, 'notFound'],
  [apigw.ResponseType.UNAUTHORIZED, 'unauthorized'],
  [apigw.ResponseType.EXPIRED_TOKEN, 'unauthorized', 401],
  [apigw.ResponseType.INVALID_SIGNATURE, 'unauthorized', 401],
  [apigw.ResponseType.ACCESS_DENIED, 'forbidden'],
  [apigw.ResponseType.AUTHORIZER_FAILURE, 'internal', 500],
  [apigw.ResponseType.AUTHORIZER_CONFIGURATION_ERROR, 'internal', 500],
  [apigw.ResponseType.INVALID_API_KEY, 'forbidden'],
  [apigw.ResponseType.WAF_FILTERED, 'forbidden'],
  [apigw.ResponseType.THROTTLED, 'tooManyRequests'],
  [apigw.ResponseType.QUOTA_EXCEEDED, 'tooManyRequests'],
  [apigw.ResponseType.REQUEST_TOO_LARGE, 'payloadTooLarge'],
  [apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE, 'unsupportedMediaType'],
  [apigw.ResponseType.INTEGRATION_FAILURE, 'internal', 502],
  [apigw.ResponseType.INTEGRATION_TIMEOUT, 'gatewayTimeout', 504],
];

/**
 * Gives every API Gateway-generated error the problem+json body and the full header set. The request
 * id travels in the body's `instance` (and API Gateway's own `x-amzn-RequestId` header): gateway
 * response headers cannot map context variables. With `echoOrigin`, each error carries
 * `Access-Control-Allow-Origin` set to the request's `Origin` (and `Vary: Origin`): only behind a web ACL that
 * refuses every origin the stage does not list.
 */
export function addGatewayProblemResponses(
  api: apigw.RestApi,
  extraHeaders: Record<string, string> = {},
  cors: { readonly echoOrigin?: boolean } = {},
): void {
  const headers = {
    ...quotedHeaders({
      ...SECURITY_HEADERS,
      'Content-Type': PROBLEM_CONTENT_TYPE,
      ...extraHeaders,
      ...(cors.echoOrigin ? { Vary: 'Origin' } : {}),
    }),
    // A request parameter, not a static value: API Gateway answers with the request's own Origin header
    // (developer guide, "x-amazon-apigateway-gateway-responses.responseParameters").
    ...(cors.echoOrigin ? { 'Access-Control-Allow-Origin': 'method.request.header.Origin' } : {}),
  };
  for (const [type, kind, override] of GATEWAY_RESPONSES) {
    // The status is always set explicitly so the body's `status` and the HTTP status never disagree.
    const status = override ?? PROBLEM_TYPES[kind].status;
    api.addGatewayResponse(`Problem${type.responseType}`, {
      type,
      statusCode: String(status),
      responseHeaders: headers,
      templates: { 'application/json': problemTemplate(kind, status) },
    });
  }
}
