/** The user pool the Cognito control functions administer. */
export function userPoolId(): string {
  const value = process.env.CITADEL_USER_POOL_ID;
  if (!value) throw new Error('CITADEL_USER_POOL_ID is not set');
  return value;
}
