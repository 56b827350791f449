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

const keys = new Map<string, Promise<CryptoKey>>();

/** The HMAC key, imported once per secret (jose would import raw bytes on every call). */
function keyOf(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    keys.set(secret, key);
  }
  return key;
}

/**
 * Tokens already verified, until they expire: verifying is a pure function
 * of the token and the secret, and WebCrypto's asynchronous HMAC is the
 * largest cost of a request. Revocation is not cached: the database checks
 * the session on every request.
 */
const VERIFIED_CACHE_SIZE = 10_000;
const verified = new Map<string, Map<string, AccessClaims>>();

function cacheFor(settings: JwtSettings): Map<string, AccessClaims> {
  const id = `${settings.issuer}\u0000${settings.secret}`;
  let cache = verified.get(id);
  if (!cache) verified.set(id, cache = new Map());
  return cache;
}

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
    .sign(await keyOf(settings.secret));
  return { token, jti, expiresAt: new Date(exp * 1000) };
}

/** The token's claims, or undefined if it is not one of our valid access tokens. */
export async function verifyAccessToken(
  token: string,
  settings: JwtSettings,
): Promise<AccessClaims | undefined> {
  const cache = cacheFor(settings);
  const known = cache.get(token);
  if (known) {
    if (known.exp * 1000 > Date.now()) return known;
    cache.delete(token);
  }
  try {
    const { payload } = await jwtVerify(token, await keyOf(settings.secret), {
      algorithms: ["HS256"],
      audience: "authenticated",
      issuer: settings.issuer,
    });
    const parsed = AccessClaimsSchema.safeParse(payload);
    if (!parsed.success) return undefined;
    if (cache.size >= VERIFIED_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(token, parsed.data);
    return parsed.data;
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
    .sign(await keyOf(secret));
}
