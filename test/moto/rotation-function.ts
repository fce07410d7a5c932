/**
 * A rotation function registered in moto's Lambda, so that moto's RotateSecret can start a rotation.
 *
 * moto's RotateSecret needs a RotationLambdaARN of a function its Lambda knows (without one it moves AWSCURRENT
 * onto an empty version, which AWS never does). moto cannot run our function here (its Lambda runs code only in
 * Docker), so it is registered in moto's Docker-less mode, where an invocation runs nothing and succeeds: moto's
 * RotateSecret then does what Secrets Manager does before the first step (a new version, labelled AWSPENDING,
 * with no value, under the request's ClientRequestToken; rotation enabled), and the tests invoke Citadel's
 * handler for each step with the event Secrets Manager sends.
 *
 * The function needs an IAM role moto knows. The repository has no IAM client (nothing in production calls
 * IAM), so the role is created with one signed IAM Query API request.
 */
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type { MotoServer } from '../support/moto';

/** An empty zip archive (end-of-central-directory record only): moto stores the code, never runs it. */
const EMPTY_ZIP = Buffer.concat([Buffer.from('PK\x05\x06', 'latin1'), Buffer.alloc(18)]);

const LAMBDA_TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

/** IAM CreateRole through the Query API (what `aws iam create-role` sends); returns the role ARN. */
async function createRole(server: MotoServer, roleName: string): Promise<string> {
  const body = new URLSearchParams({
    Action: 'CreateRole',
    Version: '2010-05-08',
    RoleName: roleName,
    AssumeRolePolicyDocument: LAMBDA_TRUST,
  }).toString();
  const url = new URL(server.endpoint);
  const signer = new SignatureV4({
    service: 'iam',
    region: 'us-east-1',
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID as string,
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY as string,
    },
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body,
  });
  const response = await fetch(`${server.endpoint}/`, {
    method: 'POST',
    headers: signed.headers,
    body,
  });
  const text = await response.text();
  const arn = /<Arn>([^<]+)<\/Arn>/.exec(text)?.[1];
  if (!response.ok || !arn) throw new Error(`IAM CreateRole answered ${response.status}: ${text}`);
  return arn;
}

/** Registers a do-nothing rotation function in moto; returns its ARN for RotateSecret's RotationLambdaARN. */
export async function registerRotationFunction(server: MotoServer, name = 'citadel-test-rotation') {
  await server.configure({ lambda: { use_docker: false } });
  const role = await createRole(server, `${name}-role`);
  const lambda = new LambdaClient({});
  try {
    const created = await lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Role: role,
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Code: { ZipFile: EMPTY_ZIP },
      }),
    );
    if (!created.FunctionArn) throw new Error('Lambda CreateFunction returned no FunctionArn');
    return created.FunctionArn;
  } finally {
    lambda.destroy();
  }
}
