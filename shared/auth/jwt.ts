/**
 * Access tokens: HS256 JWTs in Supabase's shape (`role: authenticated`,
 * `aud: authenticated`, `sub`), signed with the project's JWT secret, so the
 * same token authorizes Realtime and Storage through row-level security.
 */
import { jwtVerify, SignJWT } from "jose";
import { z } from "zod";

export const ACCESS_TOKEN_TTL_SECONDS = 30 * 24 * 60 * 60;
export const APP_ROLES = ["admin", "doctor", "patient"] as const;
export type AppRole = (typeof APP_ROLES)[number];

const AccessClaimsSchema = z.object({
  sub: z.uuid(),
  jti: z.uuid(),
  role: z.literal("authenticated"),
  user_role: z.enum(APP_ROLES),
  phone: z.string(),
  iat: z.number(),
  exp: z.number(),
}).loose();

export type AccessClaims = z.infer<typeof AccessClaimsSchema>;

export interface JwtSettings {
  secret: string;
  issuer: string;
}

const keys = new Map<string, Uint8Array>();
const keyOf = (secret: string) => {
  let key = keys.get(secret);
  if (!key) keys.set(secret, key = new TextEncoder().encode(secret));
  return key;
};

export interface IssuedToken {
  token: string;
  jti: string;
  expiresAt: Date;
}

export async function issueAccessToken(
  user: { id: string; role: AppRole; phone: string },
  settings: JwtSettings,
  now = new Date(),
): Promise<IssuedToken> {
  const jti = crypto.randomUUID();
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + ACCESS_TOKEN_TTL_SECONDS;
  const token = await new SignJWT({
    role: "authenticated",
    user_role: user.role,
    phone: user.phone,
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(user.id)
    .setAudience("authenticated")
    .setIssuer(settings.issuer)
    .setJti(jti)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(keyOf(settings.secret));
  return { token, jti, expiresAt: new Date(exp * 1000) };
}

/** The token's claims, or undefined if it is not one of our valid access tokens. */
export async function verifyAccessToken(
  token: string,
  settings: JwtSettings,
): Promise<AccessClaims | undefined> {
  try {
    const { payload } = await jwtVerify(token, keyOf(settings.secret), {
      algorithms: ["HS256"],
      audience: "authenticated",
      issuer: settings.issuer,
    });
    const parsed = AccessClaimsSchema.safeParse(payload);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A long-lived key like `supabase start` prints (role anon or service_role). */
export async function issueApiKey(role: "anon" | "service_role", secret: string): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  return await new SignJWT({ role })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer("supabase-demo")
    .setIssuedAt(iat)
    .setExpirationTime(iat + 10 * 365 * 24 * 60 * 60)
    .sign(keyOf(secret));
}
