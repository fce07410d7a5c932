import { aws_apigateway as apigw, Duration, aws_logs as logs, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { PROBLEM_CONTENT_TYPE, SECURITY_HEADERS } from '../../contract/http';
import { qualifiedScope } from '../../contract/roles';
import { pathParameterNames, type RouteDefinition } from '../../contract/route';
import { routeList } from '../../contract/routes';
import { acknowledge, inPacks } from '../compliance';
import type { StageConfig } from '../config';
import { CitadelFunction } from '../constructs/citadel-function';
import { CitadelStack } from '../constructs/citadel-stack';
import { addGatewayProblemResponses, quotedHeaders } from '../constructs/gateway-problems';
import { RegionalWebAcl } from '../constructs/regional-web-acl';
import type { DataStack } from './data-stack';
import type { IdentityStack } from './identity-stack';
import type { NetworkStack } from './network-stack';

export interface ApiStackProps {
  readonly config: StageConfig;
  readonly network: NetworkStack;
  readonly data: DataStack;
  readonly identity: IdentityStack;
  /** Version string reported by `/v1/health`. @default '0.0.0' */
  readonly version?: string;
}

const pascal = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * The REST API: one Lambda per route of the route table, JSON access logs, X-Ray, stage and method
 * throttling, problem+json for API Gateway's own errors, 405 for wrong methods, and a WAF web ACL.
 */
export class ApiStack extends CitadelStack {
  readonly api: apigw.RestApi;
  readonly webAcl: RegionalWebAcl;
  /** Route handlers by operationId. */
  readonly functions: ReadonlyMap<string, CitadelFunction>;

  constructor(scope: Construct, props: ApiStackProps) {
    super(scope, 'Api', { config: props.config, stateful: false });
    const { config, network } = props;
    const { observability, api: apiConfig } = config;
    const logRemovalPolicy = config.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      encryptionKey: network.logsKey,
      retention: observability.logRetentionDays,
      removalPolicy: logRemovalPolicy,
    });

    this.api = new apigw.RestApi(this, 'RestApi', {
      restApiName: `citadel-${config.stage}`,
      description: `Citadel API (${config.stage})`,
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      // Execution logging needs the account-level CloudWatch role; it is retained because it is account-wide.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: config.stage,
        tracingEnabled: observability.tracing,
        metricsEnabled: true,
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        // Request and response bodies carry tokens and presigned URLs: never log them.
        dataTraceEnabled: false,
        throttlingRateLimit: apiConfig.throttle.rateLimit,
        throttlingBurstLimit: apiConfig.throttle.burstLimit,
        // Routes that declare tighter limits (admin operations) get them per method.
        methodOptions: Object.fromEntries(
          routeList
            .filter((r) => r.throttle)
            .map((r) => [
              `${r.path}/${r.method}`,
              { throttlingRateLimit: r.throttle?.rateLimit, throttlingBurstLimit: r.throttle?.burstLimit },
            ]),
        ),
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
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
        apiConfig.corsOrigins.length > 0
          ? {
              allowOrigins: [...apiConfig.corsOrigins],
              allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
              allowHeaders: ['Authorization', 'Content-Type', 'X-Api-Key', 'X-Request-Id'],
              exposeHeaders: ['x-request-id', 'Retry-After', 'Location', 'ETag'],
              maxAge: Duration.hours(1),
            }
          : undefined,
    });
    addGatewayProblemResponses(this.api);
    this.acknowledgeStageFindings();
    const validator = this.api.addRequestValidator('RequestValidator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });

    // Every non-public method: a Cognito access token carrying one of the route's scopes. API Gateway caches
    // the verdict per token for five minutes; tokens themselves live at most an hour (stage config).
    const authorizer = new apigw.CognitoUserPoolsAuthorizer(this, 'Authorizer', {
      cognitoUserPools: [props.identity.userPool],
      identitySource: apigw.IdentitySource.header('Authorization'),
      resultsCacheTtl: Duration.minutes(5),
    });

    const functions = new Map<string, CitadelFunction>();
    const methodsByPath = new Map<string, string[]>();
    for (const route of routeList) {
      const fn = this.routeFunction(route, props);
      this.grantNeeds(route, fn, props);
      functions.set(route.operationId, fn);
      const resource = this.api.root.resourceForPath(route.path);
      const method = resource.addMethod(
        route.method,
        new apigw.LambdaIntegration(fn, { allowTestInvoke: false }),
        {
          operationName: route.operationId,
          requestValidator: validator,
          ...(route.auth.kind === 'public'
            ? {}
            : {
                authorizationType: apigw.AuthorizationType.COGNITO,
                authorizer,
                authorizationScopes: route.auth.scopes.map(qualifiedScope),
              }),
          requestParameters: Object.fromEntries(
            pathParameterNames(route.path).map((p) => [`method.request.path.${p}`, true]),
          ),
        },
      );
      if (route.auth.kind === 'public') {
        for (const id of ['AwsSolutions-APIG4', 'AwsSolutions-COG4']) {
          Validations.of(method).acknowledge({
            id,
            reason: `${route.method} ${route.path} is public by design (${route.summary}); it reads no user data.`,
          });
        }
      }
      methodsByPath.set(route.path, [...(methodsByPath.get(route.path) ?? []), route.method]);
    }
    for (const [path, methods] of methodsByPath) this.addMethodNotAllowed(path, methods);
    this.functions = functions;

    this.webAcl = new RegionalWebAcl(this, 'WebAcl', {
      name: `citadel-${config.stage}-api`,
      logsKey: network.logsKey,
      logRetention: observability.logRetentionDays,
      logRemovalPolicy,
      rateRules: [
        {
          name: 'PerIpRateLimit',
          limit: apiConfig.perIpRateLimit.limit,
          windowSeconds: apiConfig.perIpRateLimit.windowSeconds as 60,
        },
      ],
    });
    this.webAcl.associate('ApiStageAssociation', this.api.deploymentStage.stageArn);
  }

  /** Turns a route's declared needs into grants and environment: exactly what it declares, nothing more. */
  private grantNeeds(route: RouteDefinition, fn: CitadelFunction, props: ApiStackProps): void {
    for (const need of route.needs ?? []) {
      switch (need) {
        case 'database':
          for (const [key, value] of Object.entries(props.data.grantAppAccess(fn)))
            fn.addEnvironment(key, value);
          break;
      }
    }
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

  private routeFunction(route: RouteDefinition, props: ApiStackProps): CitadelFunction {
    const { config, network } = props;
    return new CitadelFunction(this, pascal(route.operationId), {
      entry: route.entry,
      serviceName: `citadel-${route.operationId}`,
      description: `${route.method} ${route.path}: ${route.summary}`.slice(0, 256),
      memorySize: route.memoryMiB ?? 256,
      timeout: Duration.seconds(route.timeoutSeconds ?? 10),
      logsKey: network.logsKey,
      logRetention: config.observability.logRetentionDays,
      logRemovalPolicy: config.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      logLevel: config.observability.logLevel,
      tracing: config.observability.tracing,
      vpc: network.vpc,
      vpcSubnets: network.appSubnets,
      securityGroups: [network.lambdaSecurityGroup],
      environment: {
        CITADEL_STAGE: config.stage,
        CITADEL_VERSION: props.version ?? '0.0.0',
        CITADEL_CORS_ORIGINS: config.api.corsOrigins.join(','),
      },
    });
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
    for (const id of ['AwsSolutions-APIG4', 'AwsSolutions-COG4']) {
      Validations.of(method).acknowledge({
        id,
        reason:
          'Mock integration that only answers 405 Method Not Allowed; it reaches no backend and returns no data.',
      });
    }
  }
}
