import type { Context } from 'aws-lambda';

/**
 * The Lambda context a handler receives locally (the local API's routes, the scheduled jobs). Methods sit on the
 * prototype, so an invocation allocates one small object.
 */
export class LocalContext implements Context {
  readonly callbackWaitsForEmptyEventLoop = false;
  readonly functionVersion = '$LATEST';
  readonly logStreamName = 'local';
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly logGroupName: string;
  readonly #deadline: number;

  constructor(
    readonly functionName: string,
    readonly awsRequestId: string,
    limits: { readonly memoryMiB?: number; readonly timeoutSeconds?: number } = {},
  ) {
    this.#deadline = Date.now() + (limits.timeoutSeconds ?? 10) * 1000;
    this.invokedFunctionArn = `arn:aws:lambda:local:000000000000:function:${functionName}`;
    this.memoryLimitInMB = String(limits.memoryMiB ?? 256);
    this.logGroupName = `/aws/lambda/${functionName}`;
  }

  getRemainingTimeInMillis(): number {
    return Math.max(0, this.#deadline - Date.now());
  }
  done(): void {}
  fail(): void {}
  succeed(): void {}
}
