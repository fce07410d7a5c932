/**
 * PostgreSQL helpers of the rotation function: secret-free error descriptions. SCRAM verifiers come from
 * `../shared/db/scram`, connections from `../shared/db/direct`.
 */
/** A one-line description of `error` for logs and the rethrown error, with every `secrets` value masked. */
export function describeError(error: unknown, secrets: readonly string[] = []): string {
  const e = error as { name?: unknown; code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? ` [${e.code}]` : '';
  const name = typeof e?.name === 'string' && e.name !== 'Error' ? `${e.name}: ` : '';
  let message = `${name}${typeof e?.message === 'string' ? e.message : String(error)}${code}`;
  for (const secret of secrets) {
    if (secret) message = message.split(secret).join('[REDACTED]');
  }
  return message;
}
