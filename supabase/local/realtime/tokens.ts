/**
 * JWT checks as Supabase Realtime makes them (realtime
 * lib/realtime_web/channels/auth/jwt_verification.ex and
 * channels_authorization.ex): a header of `typ: JWT`; an RS*, ES* or EdDSA
 * signature by the key of the project's JWKS with the header's `kid` and the
 * algorithm's key type (none: a signer error), or an HS256/384/512 one with
 * the project's secret; `exp` in the future, `iat` a number when present,
 * and the claims `role` and `exp` required. No issuer or audience check, and
 * no session check: Realtime knows nothing of the API's revoked tokens.
 */
import { compactVerify, decodeJwt, decodeProtectedHeader } from "jose";
import { importPublicJwk, KEY_TYPE_OF, secretBytes, type TenantKeys } from "../tenant-keys.ts";

export type Claims = Record<string, unknown> & { role: string; exp: number; sub?: string };

export type TokenFailure =
  | { kind: "expired"; message: string }
  | { kind: "missing_claims"; message: string }
  | { kind: "malformed"; message: string }
  | { kind: "signature"; message: string }
  | { kind: "signer"; message: string }
  | { kind: "invalid"; message: string };

export type TokenResult = { ok: true; claims: Claims } | { ok: false; failure: TokenFailure };

const HS_ALGORITHMS = ["HS256", "HS384", "HS512"];
const SIGNER_ERROR: TokenFailure = {
  kind: "signer",
  message: "Failed to generate JWT signer, check your JWT secret or JWKS configuration",
};

/** The key that verifies a token of this header (generate_signer), or undefined: a signer error. */
async function signerOf(
  header: Record<string, unknown>,
  keys: TenantKeys,
): Promise<CryptoKey | Uint8Array | undefined> {
  const { alg, kid, typ } = header;
  if (typ !== "JWT" || typeof alg !== "string") return undefined;
  if (HS_ALGORITHMS.includes(alg)) return secretBytes(keys);
  const kty = alg === "EdDSA" ? undefined : KEY_TYPE_OF[alg];
  if (!kty || typeof kid !== "string") return undefined;
  const jwk = keys.jwks.keys.find((k) => k.kty === kty && k.kid === kid);
  return jwk ? await importPublicJwk(jwk, alg) : undefined;
}

const fail = (failure: TokenFailure): TokenResult => ({ ok: false, failure });

export async function verifyToken(token: unknown, keys: TenantKeys, now = Date.now()): Promise<TokenResult> {
  if (typeof token !== "string") return fail({ kind: "invalid", message: "invalid_token" });
  const cleaned = token.replace(/\s/g, "");
  let header: Record<string, unknown>;
  try {
    decodeJwt(cleaned);
    header = decodeProtectedHeader(cleaned) as Record<string, unknown>;
  } catch {
    return fail({ kind: "malformed", message: "The token provided is not a valid JWT" });
  }
  const signer = await signerOf(header, keys).catch(() => undefined);
  if (!signer) return fail(SIGNER_ERROR);
  let claims: Record<string, unknown>;
  try {
    const { payload } = await compactVerify(cleaned, signer, {
      algorithms: [header.alg as string],
    });
    claims = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return fail({ kind: "signature", message: "Failed to validate JWT signature" });
  }
  return checkClaims(claims, Math.floor(now / 1000));
}

function checkClaims(claims: Record<string, unknown>, nowSeconds: number): TokenResult {
  if ("iat" in claims && typeof claims.iat !== "number") {
    return fail({ kind: "invalid", message: "Invalid token: iat" });
  }
  if ("exp" in claims) {
    if (typeof claims.exp !== "number") return fail({ kind: "invalid", message: "Invalid token: exp" });
    if (claims.exp <= nowSeconds) {
      return fail({
        kind: "expired",
        message: `Token has expired ${nowSeconds - Math.round(claims.exp)} seconds ago`,
      });
    }
  }
  if (!("role" in claims) || !("exp" in claims)) {
    return fail({ kind: "missing_claims", message: "Fields `role` and `exp` are required in JWT" });
  }
  return { ok: true, claims: { ...claims, exp: Math.round(claims.exp as number) } as Claims };
}

/** The reason a join is refused for this failure, as realtime_channel.ex words it. */
export function joinRefusal(failure: TokenFailure): string {
  switch (failure.kind) {
    case "expired":
    case "missing_claims":
      return `InvalidJWTToken: ${failure.message}`;
    case "malformed":
      return `MalformedJWT: ${failure.message}`;
    case "signature":
      return `JwtSignatureError: ${failure.message}`;
    case "signer":
      return `JwtSignerError: ${failure.message}`;
    case "invalid":
      return "Unknown Error on Channel";
  }
}

/** The message of the `system` event that closes a channel for this failure (shutdown_response). */
export function shutdownMessage(failure: TokenFailure): string {
  switch (failure.kind) {
    case "signature":
      return ":signature_error"; // Supabase inspects the bare error atom here
    case "signer":
      return ":error_generating_signer";
    default:
      return failure.message;
  }
}

/** The HTTP answer to a socket connection refused for this failure (user_socket.ex handle_error). */
export function connectRefusal(failure: TokenFailure): { status: number; error: string } {
  switch (failure.kind) {
    case "expired":
      return { status: 401, error: "Token has expired" };
    case "missing_claims":
    case "malformed":
    case "signature":
    case "signer":
      return { status: 401, error: failure.message };
    case "invalid":
      return { status: 500, error: "Error connecting to Realtime" };
  }
}
