import {
  aws_apigateway as apigw,
  type aws_cognito as cognito,
  Duration,
  type aws_lambda as lambda,
  type aws_logs as logs,
  RemovalPolicy,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import * as z from 'zod';
import { PROBLEM_CONTENT_TYPE, SECURITY_HEADERS } from '../../contract/http';
import { qualifiedScope } from '../../contract/roles';
import { pathParameterNames, type RouteDefinition } from '../../contract/route';
import { acknowledge, inPacks } from '../compliance';
import { addGatewayProblemResponses, quotedHeaders } from './gateway-problems';

/**
 * The longest a route's function may run: API Gateway's Lambda integration timeout is 29 s (API Gateway
 * developer guide, "Amazon API Gateway quotas"), and a function that outlives it answers nobody. One second is
 * left for the integration itself.
 */
export const MAX_INTEGRATION_SECONDS = 28;

export interface CitadelRestApiProps {
  /** Name shown in the console, e.g. `citadel-prod` or `citadel-prod-machine`. */
  readonly restApiName: string;
  readonly description: string;
  readonly stageName: string;
  /** The routes this API serves, each with its handler. */
  readonly routes: readonly RouteDefinition[];
  readonly functions: ReadonlyMap<string, lambda.Function>;
  /** Pool whose access tokens the Cognito authorizer accepts. */
  readonly userPool: cognito.IUserPool;
  readonly accessLogs: logs.ILogGroup;
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Applied to routes declaring `throttle: 'admin'`. */
  readonly adminThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  /** @default true */
  readonly tracing?: boolean;
  /**
   * Browser origins allowed by CORS. API Gateway's own errors then echo the request's `Origin`, which is safe only
   * behind a web ACL refusing every other origin (`RegionalWebAcl` `browserOrigins`).
   * @default - no CORS (machine APIs)
   */
  readonly corsOrigins?: readonly string[];
  /** Every method requires a usage-plan API key (metering only; authorization stays with Cognito). @default false */
  readonly apiKeyRequired?: boolean;
  /** Creates the account-level CloudWatch role execution logging needs (one API per account). @default false */
  readonly accountCloudWatchRole?: boolean;
}

/** API Gateway request models are JSON Schema draft 4; zod writes it from the route's body schema. */
export const requestModelSchema = (schema: z.ZodType): apigw.JsonSchema => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: 'draft-4', io: 'input' }) as Record<
    string,
    unknown
  >;
  return { schema: apigw.JsonSchemaVersion.DRAFT4, ...(rest as apigw.JsonSchema) };
};

const pascal = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * A Citadel REST API built from route-table entries: JSON access logs, X-Ray, stage and admin throttling,
 * Cognito authorization with the route's scopes, request models from the route's schemas, problem+json
 * (with security headers and CORS for the request's origin) for API Gateway's own errors, and 405 with
 * `Allow` for undeclared methods.
 */
export class CitadelRestApi extends Construct {
  readonly api: apigw.RestApi;

  constructor(scope: Construct, id: string, props: CitadelRestApiProps) {
    super(scope, id);
    const admin = props.routes.filter((r) => r.throttle === 'admin');
    const origins = props.corsOrigins ?? [];
    this.api = new apigw.RestApi(this, 'RestApi', {
      restApiName: props.restApiName,
      description: props.description,
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      // Execution logging needs the account-level CloudWatch role; it is retained because it is account-wide.
      ...(props.accountCloudWatchRole
        ? { cloudWatchRole: true, cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN }
        : { cloudWatchRole: false }),
      apiKeySourceType: apigw.ApiKeySourceType.HEADER,
      deployOptions: {
        stageName: props.stageName,
        tracingEnabled: props.tracing ?? true,
        metricsEnabled: true,
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        // Request and response bodies carry tokens and presigned URLs: never log them.
        dataTraceEnabled: false,
        throttlingRateLimit: props.throttle.rateLimit,
        throttlingBurstLimit: props.throttle.burstLimit,
        methodOptions: Object.fromEntries(
          admin.map((r) => [
            `${r.path}/${r.method}`,
            {
              throttlingRateLimit: props.adminThrottle.rateLimit,
              throttlingBurstLimit: props.adminThrottle.burstLimit,
            },
          ]),
        ),
        accessLogDestination: new apigw.LogGroupLogDestination(props.accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTimeEpoch',
            ip: '$context.identity.sourceIp',
            principal: '$context.authorizer.claims.sub',
            clientId: '$context.authorizer.claims.client_id',
            apiKeyId: '$context.identity.apiKeyId',
            method: '$context.httpMethod',
            route: '$context.resourcePath',
            path: '$context.path',
            status: '$context.status',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            responseLength: '$context.responseLength',
            error: '$context.error.responseType',
            waf: '$context.waf.status',
            userAgent: '$context.identity.userAgent',
            xrayTraceId: '$context.xrayTraceId',
          }),
        ),
      },
      defaultCorsPreflightOptions:
        origins.length > 0
          ? {
              allowOrigins: [...origins],
              allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
              allowHeaders: ['Authorization', 'Content-Type', 'X-Api-Key', 'X-Request-Id'],
              exposeHeaders: ['x-request-id', 'Retry-After', 'Location', 'ETag'],
              maxAge: Duration.hours(1),
            }
          : undefined,
    });
    // API Gateway's own errors (401, 403, 429, …) echo the request's Origin so that a page on any allowed origin
    // can read them. Safe only behind the web ACL's ForeignOrigin rule, which refuses every other origin before
    // the API sees the request (RegionalWebAcl `browserOrigins`; test/wiring/waf.test.ts checks the pair).
    addGatewayProblemResponses(this.api, {}, origins.length > 0 ? { echoOrigin: true } : {});
    this.acknowledgeStageFindings();

    const validator = this.api.addRequestValidator('RequestValidator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    // Every non-public method: a Cognito access token carrying one of the route's scopes. API Gateway caches
    // the verdict per token for five minutes; tokens themselves live at most an hour (stage config).
    const authorizer = new apigw.CognitoUserPoolsAuthorizer(this, 'Authorizer', {
      cognitoUserPools: [props.userPool],
      identitySource: apigw.IdentitySource.header('Authorization'),
      resultsCacheTtl: Duration.minutes(5),
    });

    const methodsByPath = new Map<string, string[]>();
    for (const route of props.routes) {
      const fn = props.functions.get(route.operationId);
      if (!fn) throw new Error(`CitadelRestApi ${id}: no function for route ${route.operationId}`);
      const timeout = fn.timeout?.toSeconds();
      if (timeout !== undefined && timeout > MAX_INTEGRATION_SECONDS) {
        throw new Error(
          `CitadelRestApi ${id}: route ${route.operationId} has a ${timeout} s function timeout, but API Gateway gives up on a Lambda integration after 29 s; set timeoutSeconds to ${MAX_INTEGRATION_SECONDS} or less so the caller gets the function's answer.`,
        );
      }
      const model = route.body
        ? this.api.addModel(`${pascal(route.operationId)}Body`, {
            contentType: 'application/json',
            modelName: `${pascal(route.operationId)}Body`,
            schema: requestModelSchema(route.body),
          })
        : undefined;
      const method = this.api.root
        .resourceForPath(route.path)
        .addMethod(route.method, new apigw.LambdaIntegration(fn, { allowTestInvoke: false }), {
          operationName: route.operationId,
          requestValidator: validator,
          requestParameters: Object.fromEntries(
            pathParameterNames(route.path).map((p) => [`method.request.path.${p}`, true]),
          ),
          ...(model ? { requestModels: { 'application/json': model } } : {}),
          apiKeyRequired: route.auth.kind !== 'public' && (props.apiKeyRequired ?? false),
          ...(route.auth.kind === 'public'
            ? {}
            : {
                authorizationType: apigw.AuthorizationType.COGNITO,
                authorizer,
                authorizationScopes: route.auth.scopes.map(qualifiedScope),
              }),
        });
      if (route.auth.kind === 'public') {
        acknowledge(
          method,
          ['AwsSolutions-APIG4', 'AwsSolutions-COG4'],
          `${route.method} ${route.path} is public by design (${route.summary}); it reads no user data.`,
        );
      }
      methodsByPath.set(route.path, [...(methodsByPath.get(route.path) ?? []), route.method]);
    }
    for (const [path, methods] of methodsByPath) this.addMethodNotAllowed(path, methods);
  }

  private acknowledgeStageFindings(): void {
    acknowledge(
      this.api.deploymentStage,
      inPacks('APIGWCacheEnabledAndEncrypted', 'NIST.800.53.R5', 'HIPAA.Security'),
      "Responses are per caller and marked no-store; a stage cache could serve one user's data to another.",
    );
    acknowledge(
      this.api.deploymentStage,
      inPacks('APIGWSSLEnabled', 'NIST.800.53.R5', 'HIPAA.Security'),
      'Every integration is a Lambda proxy invoked over IAM-signed AWS APIs; backend client certificates apply only to HTTP integrations.',
    );
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole) {
      acknowledge(
        cloudWatchRole,
        [
          'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        ],
        'The AWS-maintained policy API Gateway documents for its account-level logging role; execution logs need it.',
      );
    }
  }

  /**
   * API Gateway cannot tell "wrong method" from "unknown path". An `ANY` mock on each resource answers
   * the methods the route table does not declare with 405, problem+json and `Allow`, without any Lambda.
   */
  private addMethodNotAllowed(path: string, methods: readonly string[]): void {
    const allow = [...methods, 'OPTIONS'].join(', ');
    const headers = quotedHeaders({
      ...SECURITY_HEADERS,
      Allow: allow,
      'Content-Type': PROBLEM_CONTENT_TYPE,
    });
    const problem =
      '{"type":"urn:citadel:problem:method-not-allowed","title":"Method not allowed","status":405,' +
      `"detail":"This resource supports ${allow}.","instance":"$context.requestId"}`;
    const method = this.api.root.resourceForPath(path).addMethod(
      'ANY',
      new apigw.MockIntegration({
        passthroughBehavior: apigw.PassthroughBehavior.NEVER,
        requestTemplates: { 'application/json': '{"statusCode": 405}' },
        integrationResponses: [
          {
            statusCode: '405',
            responseParameters: Object.fromEntries(
              Object.entries(headers).map(([k, v]) => [`method.response.header.${k}`, v]),
            ),
            responseTemplates: { 'application/json': problem },
          },
        ],
      }),
      {
        methodResponses: [
          {
            statusCode: '405',
            responseParameters: Object.fromEntries(
              Object.keys(headers).map((k) => [`method.response.header.${k}`, true]),
            ),
          },
        ],
      },
    );
    acknowledge(
      method,
      ['AwsSolutions-APIG4', 'AwsSolutions-COG4'],
      'Mock integration that only answers 405 Method Not Allowed; it reaches no backend and returns no data.',
    );
  }
}
