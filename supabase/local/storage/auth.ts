/**
 * Who is calling: the JWT of `Authorization: Bearer`, or else of the
 * `apikey` header (what Supabase's gateway forwards, docker/volumes/api/kong.yml
 * and its LUA_AUTH_EXPR; a publishable or secret key has been swapped for a
 * JWT of role anon or service_role by then, supabase/local/api-keys.ts),
 * verified as Storage does (src/internal/auth/jwt.ts): signature and expiry
 * only; an asymmetric token by the JWKS key of its `kid` and type, an HS256
 * one (or one no JWKS key matches) by the project's secret. Its `role`
 * claim is the database role every query of the request runs as, with the
 * whole payload as `request.jwt.claims`, so row-level security decides.
 */
import { type JWTHeaderParameters, jwtVerify } from "jose";
import { importPublicJwk, KEY_TYPE_OF, secretBytes, type TenantKeys } from "../tenant-keys.ts";
import { ERRORS } from "./errors.ts";

export type DatabaseRole = "anon" | "authenticated" | "service_role";

export interface Caller {
  role: DatabaseRole;
  claims: Record<string, unknown>;
  /** Whether a valid JWT was given (Storage's `request.isAuthenticated`). */
  authenticated: boolean;
  /** The JWT's `sub`, recorded as the owner of what the caller uploads. */
  owner?: string;
}

const ROLES: readonly string[] = ["anon", "authenticated", "service_role"];

export const ANON: Caller = { role: "anon", claims: { role: "anon" }, authenticated: false };

/** The superuser path of Supabase Storage (`asSuperUser()`): row-level security does not apply. */
export const SUPERUSER: Caller = {
  role: "service_role",
  claims: { role: "service_role" },
  authenticated: true,
};

export function bearerOf(request: Request): string {
  const authorization = request.headers.get("authorization");
  const credential = authorization ?? request.headers.get("apikey") ?? "";
  return credential.replace(/^Bearer\s+/i, "").trim();
}

/**
 * The caller, or AccessDenied with jose's reason (as Storage answers a
 * missing, malformed, forged or expired token). With `allowInvalidJwt`
 * (the routes Storage marks so) a bad or missing token is the anon role.
 */
export async function authenticate(
  request: Request,
  keys: TenantKeys,
  options: { allowInvalidJwt?: boolean } = {},
): Promise<Caller> {
  const jwt = bearerOf(request);
  if (!jwt && options.allowInvalidJwt) return ANON;
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(jwt, (header) => keyFor(keys, header), {
      algorithms: algorithmsOf(keys),
    }));
  } catch (error) {
    if (options.allowInvalidJwt) return ANON;
    throw ERRORS.accessDenied(error instanceof Error ? error.message : undefined);
  }
  const role = payload.role;
  if (typeof role !== "string" || !ROLES.includes(role)) {
    throw ERRORS.accessDenied("Access denied: Invalid role");
  }
  return {
    role: role as DatabaseRole,
    claims: payload,
    authenticated: true,
    owner: typeof payload.sub === "string" ? payload.sub : undefined,
  };
}

// Storage names Ed25519 keys' algorithm EdDSA only.
const ASYMMETRIC_KTY = Object.fromEntries(
  Object.entries(KEY_TYPE_OF).filter(([alg]) => alg !== "Ed25519" && alg !== "Ed448"),
);

/** The key of a token's header: the JWKS key of its kid and type, else the secret. */
async function keyFor(keys: TenantKeys, header: JWTHeaderParameters): Promise<CryptoKey | Uint8Array> {
  const kty = ASYMMETRIC_KTY[header.alg];
  const jwk = kty && keys.jwks.keys.find((k) => k.kty === kty && (k.kid ?? undefined) === header.kid);
  return jwk ? await importPublicJwk(jwk, header.alg) : secretBytes(keys);
}

/** HS256 always; the families of the JWKS's key types besides (Storage's getJWTAlgorithms). */
function algorithmsOf(keys: TenantKeys): string[] {
  const types = new Set(keys.jwks.keys.map((k) => k.kty));
  return ["HS256", ...Object.entries(ASYMMETRIC_KTY).filter(([, kty]) => types.has(kty)).map(([alg]) => alg)];
}

/** The project secret as an HMAC key for jose, imported once (signed URLs). */
export function importSecret(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}
