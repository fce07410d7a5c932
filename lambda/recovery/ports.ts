/**
 * What self-service recovery needs from Cognito (and SES), as an interface: Lambdas use the recovery control
 * function (`adapters.ts`); `npm run dev` swaps in the local simulator.
 */

/** The answer to "is this the user's password?": only `verified`, and who the user is when it is. */
export type PasswordCheck =
  | { readonly verified: false }
  | {
      readonly verified: true;
      /** Cognito `sub`: whose recovery codes to check. */
      readonly userId: string;
      /** The real Cognito user name (what was typed may be an alias, the email address). */
      readonly username: string;
    };

export interface RecoveryIdentity {
  /**
   * Checks `password` for the user `username` names, making the same Cognito calls whatever the answer.
   * `sourceIp` and `userAgent` are the person's, for Cognito's threat protection.
   */
  verifyPassword(
    username: string,
    password: string,
    context: { readonly sourceIp: string; readonly userAgent?: string },
  ): Promise<PasswordCheck>;
  /**
   * Turns every MFA factor off, signs the user out everywhere and emails them that a recovery code was used from
   * `sourceIp`; `notified` says whether the email went out.
   */
  recover(username: string, sourceIp: string): Promise<{ notified: boolean }>;
}
