/**
 * Who is calling: the JWT of `Authorization: Bearer`, or else of the
 * `apikey` header (what Supabase's gateway forwards, docker/volumes/api/kong.yml
 * and its LUA_AUTH_EXPR), verified with the project's secret as Storage does
 * (src/http/plugins/jwt.ts): signature and expiry only, HS256. Its `role`
 * claim is the database role every query of the request runs as, with the
 * whole payload as `request.jwt.claims`, so row-level security decides.
 */
import { jwtVerify } from "jose";
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
  key: CryptoKey,
  options: { allowInvalidJwt?: boolean } = {},
): Promise<Caller> {
  const jwt = bearerOf(request);
  if (!jwt && options.allowInvalidJwt) return ANON;
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(jwt, key, { algorithms: ["HS256"] }));
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

/** The project secret as an HMAC key for jose, imported once. */
export function importSecret(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}
