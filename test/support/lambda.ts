import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';

/** A typed Lambda context fixture. */
export function lambdaContext(overrides: Partial<Context> = {}): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'citadel-test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:citadel-test',
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/citadel-test',
    logStreamName: '2026/11/22/[$LATEST]test',
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
    ...overrides,
  };
}

export interface EventInit {
  readonly method?: string;
  readonly path?: string;
  /** API Gateway resource template, e.g. `/v1/files/{id}`. @default path */
  readonly resource?: string;
  readonly headers?: Record<string, string>;
  readonly query?: Record<string, string | string[]>;
  readonly pathParameters?: Record<string, string>;
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
  readonly claims?: Record<string, string>;
  readonly requestId?: string;
  readonly sourceIp?: string;
}

/** An API Gateway REST proxy event of the shape Lambda receives. */
export function proxyEvent(init: EventInit = {}): APIGatewayProxyEvent {
  const method = init.method ?? 'GET';
  const path = init.path ?? '/v1/health';
  const multi: Record<string, string[]> = {};
  const single: Record<string, string> = {};
  for (const [k, v] of Object.entries(init.query ?? {})) {
    const all = Array.isArray(v) ? v : [v];
    multi[k] = all;
    single[k] = all[all.length - 1] as string;
  }
  const headers = init.headers ?? {};
  return {
    resource: init.resource ?? path,
    path,
    httpMethod: method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: Object.keys(single).length ? single : null,
    multiValueQueryStringParameters: Object.keys(multi).length ? multi : null,
    pathParameters: init.pathParameters ?? null,
    stageVariables: null,
    body: init.body ?? null,
    isBase64Encoded: init.isBase64Encoded ?? false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'testapi',
      authorizer: init.claims ? { claims: init.claims } : null,
      protocol: 'HTTP/1.1',
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: init.sourceIp ?? '203.0.113.10',
        user: null,
        userAgent: 'jest',
        userArn: null,
      },
      path: `/test${path}`,
      stage: 'test',
      requestId: init.requestId ?? randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'abc123',
      resourcePath: init.resource ?? path,
    },
  };
}
