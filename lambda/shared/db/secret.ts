/**
 * The JSON a PostgreSQL database secret holds (the shape RDS and CDK's `DatabaseSecret` write), parsed
 * without ever echoing a value: errors name fields, never their content.
 */
import * as z from 'zod';

const port = z
  .union([z.number(), z.string().regex(/^\d+$/).transform(Number)])
  .pipe(z.number().int().min(1).max(65_535));

const schema = z.looseObject({
  engine: z.literal('postgres'),
  host: z.string().min(1),
  port,
  username: z.string().min(1),
  password: z.string().min(1),
  // RDS leaves `dbname` out when the instance has no initial database; PostgreSQL then has `postgres`.
  dbname: z.string().min(1).default('postgres'),
  masterarn: z.string().startsWith('arn:').optional(),
});

/** A parsed database secret. `raw` keeps every field (e.g. `dbInstanceIdentifier`) for the next version. */
export interface DatabaseSecret {
  readonly engine: 'postgres';
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly dbname: string;
  /** ARN of the master secret (alternating-users strategy only). */
  readonly masterarn?: string;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** A secret value that is not a database secret. The message names fields only, never values. */
export class SecretFormatError extends Error {
  override readonly name = 'SecretFormatError';
}

/** Parses a SecretString; `label` says which version it is (e.g. `AWSCURRENT`) for the error message. */
export function parseSecret(secretString: string | undefined, label: string): DatabaseSecret {
  if (secretString === undefined) throw new SecretFormatError(`${label} has no SecretString`);
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    // V8's JSON.parse messages quote part of the input, which may be the password.
    throw new SecretFormatError(`${label} is not valid JSON`);
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const fields = [...new Set(result.error.issues.map((issue) => issue.path.join('.') || '(root)'))];
    throw new SecretFormatError(`${label} is not a PostgreSQL secret: invalid field(s) ${fields.join(', ')}`);
  }
  const { engine, host, port: p, username, password, dbname, masterarn } = result.data;
  return {
    engine,
    host,
    port: p,
    username,
    password,
    dbname,
    ...(masterarn === undefined ? {} : { masterarn }),
    raw: json as Record<string, unknown>,
  };
}

/** The SecretString of the next version: every field of `base`, with a new username and password. */
export function nextSecretString(base: DatabaseSecret, username: string, password: string): string {
  return JSON.stringify({ ...base.raw, username, password });
}

/** True when two secrets point at the same PostgreSQL server. */
export function sameServer(a: DatabaseSecret, b: DatabaseSecret): boolean {
  return a.host.toLowerCase() === b.host.toLowerCase() && a.port === b.port;
}
