/** The user pool the Cognito control functions administer. */
export function userPoolId(): string {
  const value = process.env.CITADEL_USER_POOL_ID;
  if (!value) throw new Error('CITADEL_USER_POOL_ID is not set');
  return value;
}

/** Lifetime of machine clients' access tokens, in minutes: the stage's `identity.tokenValidityMinutes`. */
export function accessTokenMinutes(): number {
  const value = Number(process.env.CITADEL_ACCESS_TOKEN_MINUTES);
  if (!Number.isInteger(value) || value < 5 || value > 1440)
    throw new Error('CITADEL_ACCESS_TOKEN_MINUTES must be a whole number of minutes from 5 to 1440');
  return value;
}
