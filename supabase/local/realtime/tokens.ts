/**
 * JWT checks as Supabase Realtime makes them (realtime
 * lib/realtime_web/channels/auth/jwt_verification.ex and
 * channels_authorization.ex): an HS256/384/512 signature with the project's
 * secret, `exp` in the future, `iat` a number when present, and the claims
 * `role` and `exp` required. No issuer or audience check, and no session
 * check: Realtime knows nothing of the API's revoked tokens.
 */
import { compactVerify, decodeJwt, decodeProtectedHeader } from "jose";

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

const fail = (failure: TokenFailure): TokenResult => ({ ok: false, failure });

export async function verifyToken(token: unknown, secret: string, now = Date.now()): Promise<TokenResult> {
  if (typeof token !== "string") return fail({ kind: "invalid", message: "invalid_token" });
  const cleaned = token.replace(/\s/g, "");
  let header: Record<string, unknown>;
  try {
    decodeJwt(cleaned);
    header = decodeProtectedHeader(cleaned) as Record<string, unknown>;
  } catch {
    return fail({ kind: "malformed", message: "The token provided is not a valid JWT" });
  }
  if (typeof header.alg !== "string" || !HS_ALGORITHMS.includes(header.alg)) {
    return fail({
      kind: "signer",
      message: "Failed to generate JWT signer, check your JWT secret or JWKS configuration",
    });
  }
  let claims: Record<string, unknown>;
  try {
    const { payload } = await compactVerify(cleaned, new TextEncoder().encode(secret), {
      algorithms: [header.alg],
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
