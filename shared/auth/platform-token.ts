/**
 * Platform tokens: short-lived JWTs for Supabase Realtime (and Storage),
 * minted from a live API session.
 *
 * Realtime verifies a token only at join, when the client sends a new one
 * (`access_token`) and when it expires, never against the API's sessions. An
 * API token lives 30 days, so a socket that joined with it would keep
 * receiving after a logout. A platform token expires within minutes and is
 * minted only while its session is live (the request's session check), so a
 * dead session's channels stop at the next expiry: the client's refresh is
 * refused. The database's policies on realtime.messages take only these
 * tokens (`session_id`, expiring within the hour).
 *
 * Supabase's shape: `sub`, `role` and `aud` authenticated, `user_role`,
 * `session_id` (the API token's `jti`), `iat`, `exp`; no `jti` and no
 * `phone`, so the API refuses it as a bearer token. Signed with the same key
 * and algorithm as the access tokens.
 */
import { SignJWT } from "jose";
import { type AccessClaims, type JwtSettings, signWithCurrentKey } from "./jwt.ts";

/** The longest lifetime the policies on realtime.messages accept (app.is_platform_token()). */
export const MAX_PLATFORM_TOKEN_TTL_SECONDS = 3600;

export interface PlatformToken {
  token: string;
  expiresAt: Date;
}

/** A platform token for the caller's session; it never outlives the session's own token. */
export async function issuePlatformToken(
  caller: AccessClaims,
  settings: JwtSettings,
  ttlSeconds: number,
  now = new Date(),
): Promise<PlatformToken> {
  const iat = Math.floor(now.getTime() / 1000);
  const exp = Math.min(iat + ttlSeconds, caller.exp);
  const token = await signWithCurrentKey(
    settings,
    new SignJWT({ role: "authenticated", user_role: caller.user_role, session_id: caller.jti })
      .setSubject(caller.sub)
      .setAudience("authenticated")
      .setIssuer(settings.issuer)
      .setIssuedAt(iat)
      .setExpirationTime(exp),
  );
  return { token, expiresAt: new Date(exp * 1000) };
}
