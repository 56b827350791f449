/**
 * Access tokens: JWTs in Supabase's shape (`role: authenticated`,
 * `aud: authenticated`, `sub`), so the same token authorizes Realtime and
 * Storage through row-level security.
 *
 * Signed as a Supabase project signs them (Auth → JWT Signing Keys): with the
 * current asymmetric key (ES256 or RS256, its `kid` in the header) that the
 * clinic imports into its project, the project's JWKS then lets Realtime and
 * Storage verify them; or, for older projects, with the legacy HS256 JWT
 * secret. Every key of the set verifies (standby and previously used keys),
 * so a rotation signs no one out until the old key is removed.
 */
import {
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTHeaderParameters,
  jwtVerify,
  SignJWT,
} from "jose";
import { z } from "zod";
import { bindSigningKey } from "../db/database.ts";

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

/** The asymmetric algorithms a signing key may have (Supabase: ES256 recommended, RS256). */
export const ASYMMETRIC_ALGORITHMS = ["ES256", "RS256"] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

/** A private JWK of the signing key set, as `supabase gen signing-key` writes it. */
export type PrivateJwk = JWK & { kid: string; alg: AsymmetricAlgorithm };

export interface JwtSettings {
  issuer: string;
  /**
   * The signing key set: the first signs, every one verifies. Empty: the
   * legacy mode, where `secret` signs.
   */
  signingKeys: PrivateJwk[];
  /**
   * The legacy HS256 JWT secret: signs when there are no signing keys;
   * beside them it only verifies (a project migrating off it, until removed).
   */
  secret?: string;
}

/** The algorithm a private JWK signs with: its `alg`, else the one its key type implies. */
export function algorithmOf(jwk: JWK): AsymmetricAlgorithm | undefined {
  const implied = jwk.kty === "EC" && jwk.crv === "P-256" ? "ES256" : jwk.kty === "RSA" ? "RS256" : undefined;
  if (!implied || (jwk.alg !== undefined && jwk.alg !== implied)) return undefined;
  return implied;
}

/** The public half of a signing key, as a JWKS publishes it (never `d` or the RSA primes). */
export function publicJwkOf(jwk: PrivateJwk): JWK {
  const material = jwk.kty === "EC" ? { crv: jwk.crv, x: jwk.x, y: jwk.y } : { n: jwk.n, e: jwk.e };
  return { kty: jwk.kty, ...material, kid: jwk.kid, alg: jwk.alg, use: "sig", key_ops: ["verify"] };
}

/** The project's JWKS: the public keys of the signing key set (none in the legacy mode). */
export function jwksOf(settings: Pick<JwtSettings, "signingKeys">): { keys: JWK[] } {
  return { keys: settings.signingKeys.map(publicJwkOf) };
}

/** A new ES256 signing key with a random kid, like `supabase gen signing-key --algorithm ES256`. */
export async function generateSigningKey(): Promise<PrivateJwk> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: crypto.randomUUID(), alg: "ES256" } as PrivateJwk;
}

interface VerificationKey {
  alg: string;
  key: CryptoKey;
}

/** The imported keys of one settings value, and the tokens they already verified. */
interface KeyRing {
  signing: { alg: string; kid?: string; key: CryptoKey };
  byKid: Map<string, VerificationKey>;
  hmac?: CryptoKey;
  algorithms: string[];
  verified: Map<string, AccessClaims>;
}

const ringsBySettings = new WeakMap<JwtSettings, Promise<KeyRing>>();
const ringsById = new Map<string, Promise<KeyRing>>();

/**
 * The key ring of these settings, imported once: by the settings object, or
 * else by what it holds (the issuer and the whole key set, so a token
 * verified under one set is never taken as verified under another).
 */
export function keyRingOf(settings: JwtSettings): Promise<KeyRing> {
  let ring = ringsBySettings.get(settings);
  if (ring) return ring;
  const id = JSON.stringify([settings.issuer, settings.secret ?? null, settings.signingKeys]);
  ring = ringsById.get(id);
  if (!ring) {
    ring = importRing(settings);
    ringsById.set(id, ring);
    ring.catch(() => ringsById.delete(id));
  }
  ringsBySettings.set(settings, ring);
  return ring;
}

async function importRing(settings: JwtSettings): Promise<KeyRing> {
  const hmac = settings.secret === undefined ? undefined : await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(settings.secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  const byKid = new Map<string, VerificationKey>();
  let signing: KeyRing["signing"] | undefined;
  for (const jwk of settings.signingKeys) {
    const key = await importJWK(publicJwkOf(jwk), jwk.alg) as CryptoKey;
    byKid.set(jwk.kid, { alg: jwk.alg, key });
    signing ??= { alg: jwk.alg, kid: jwk.kid, key: await importJWK(jwk, jwk.alg) as CryptoKey };
  }
  if (!signing && hmac) signing = { alg: "HS256", key: hmac };
  if (!signing) throw new Error("no signing key: set JWT_SIGNING_KEYS or JWT_SECRET");
  const algorithms = [...new Set([...byKid.values()].map((k) => k.alg))];
  if (hmac) algorithms.push("HS256");
  return { signing, byKid, hmac, algorithms, verified: new Map() };
}

/** The key a token's header names: its `kid` among the signing keys, or the secret for HS256. */
function keyFor(ring: KeyRing, header: JWTHeaderParameters): CryptoKey {
  if (header.alg === "HS256" && ring.hmac) return ring.hmac;
  const key = header.kid === undefined ? undefined : ring.byKid.get(header.kid);
  if (!key || key.alg !== header.alg) throw new Error("no key for this token");
  return key.key;
}

/** Signs a payload with the current key (header `alg`, `typ` and, for a signing key, `kid`). */
export async function signWithCurrentKey(settings: JwtSettings, claims: SignJWT): Promise<string> {
  const { signing } = await keyRingOf(settings);
  return await claims
    .setProtectedHeader({ alg: signing.alg, typ: "JWT", ...(signing.kid ? { kid: signing.kid } : {}) })
    .sign(signing.key);
}

export interface IssuedToken {
  token: string;
  jti: string;
  expiresAt: Date;
  /** The kid of the key that signed it (undefined: the HS256 secret), recorded with its session. */
  kid?: string;
}

export async function issueAccessToken(
  user: { id: string; role: AppRole; phone: string },
  settings: JwtSettings,
  now = new Date(),
): Promise<IssuedToken> {
  const jti = crypto.randomUUID();
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + ACCESS_TOKEN_TTL_SECONDS;
  const token = await signWithCurrentKey(
    settings,
    new SignJWT({ role: "authenticated", user_role: user.role, phone: user.phone })
      .setSubject(user.id)
      .setAudience("authenticated")
      .setIssuer(settings.issuer)
      .setJti(jti)
      .setIssuedAt(iat)
      .setExpirationTime(exp),
  );
  return { token, jti, expiresAt: new Date(exp * 1000), kid: (await keyRingOf(settings)).signing.kid };
}

/**
 * Tokens already verified, per key ring, until they expire: verifying is a
 * pure function of the token and the key set, and ES256 verification costs
 * far more than the rest of a cached request. Revocation is not cached: the
 * database checks the session on every request.
 */
const VERIFIED_CACHE_SIZE = 10_000;

/**
 * The token's claims, or undefined if it is not one of our valid access
 * tokens. The claims carry the kid of the key that signed it to the
 * session check (bindSigningKey).
 */
export async function verifyAccessToken(
  token: string,
  settings: JwtSettings,
): Promise<AccessClaims | undefined> {
  let ring: KeyRing;
  try {
    ring = await keyRingOf(settings);
  } catch {
    return undefined;
  }
  const cache = ring.verified;
  const known = cache.get(token);
  if (known) {
    if (known.exp * 1000 > Date.now()) return known;
    cache.delete(token);
  }
  try {
    const { payload, protectedHeader } = await jwtVerify(token, (header) => keyFor(ring, header), {
      algorithms: ring.algorithms,
      audience: "authenticated",
      issuer: settings.issuer,
    });
    const parsed = AccessClaimsSchema.safeParse(payload);
    if (!parsed.success) return undefined;
    const kid = protectedHeader.alg === "HS256" ? undefined : protectedHeader.kid;
    if (cache.size >= VERIFIED_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(token, bindSigningKey(parsed.data, kid));
    return parsed.data;
  } catch {
    return undefined;
  }
}

/**
 * The `role` of a JWT signed by one of these keys, whatever its issuer or
 * audience (a project's API keys carry neither), or undefined.
 */
export async function verifiedRole(token: string, settings: JwtSettings): Promise<string | undefined> {
  try {
    const ring = await keyRingOf(settings);
    const { payload } = await jwtVerify(token, (header) => keyFor(ring, header), {
      algorithms: ring.algorithms,
    });
    return typeof payload.role === "string" ? payload.role : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A long-lived legacy API key like `supabase start` prints (role anon or
 * service_role), signed with the current key as the CLI does once signing
 * keys are configured.
 */
export async function issueApiKey(role: "anon" | "service_role", settings: JwtSettings): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  return await signWithCurrentKey(
    settings,
    new SignJWT({ role })
      .setIssuer("supabase-demo")
      .setIssuedAt(iat)
      .setExpirationTime(iat + 10 * 365 * 24 * 60 * 60),
  );
}
