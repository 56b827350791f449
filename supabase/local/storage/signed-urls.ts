/**
 * Signed URL tokens, as Supabase Storage makes and checks them
 * (src/storage/object.ts: signObjectUrl, signUploadObjectUrl,
 * verifyObjectSignature; src/internal/auth/jwt.ts): HS256 JWTs signed with
 * the project's secret, holding the object's `<bucket>/<key>` as `url`, a
 * `scope` (download or upload) and `exp`; an upload token also holds the
 * `owner` and whether it may `upsert`. A token opens one object, for one
 * action, until it expires.
 */
import { jwtVerify, SignJWT } from "jose";
import { ERRORS } from "./errors.ts";

/**
 * How long a signed upload URL lasts unless the stand-in is told otherwise:
 * Supabase's documented 2 hours (the project's UPLOAD_SIGNED_URL_EXPIRATION_TIME;
 * Storage's own default, for a server of its own, is 60 s).
 */
export const SIGNED_UPLOAD_URL_TTL_SECONDS = 2 * 60 * 60;

/** Storage's bound on `expiresIn` (assertValidNumericJWTExpiration). */
const MAX_ABSOLUTE_EXPIRATION_SECONDS = Math.floor(Number.MAX_SAFE_INTEGER / 1000);

export type Scope = "download" | "upload";

export interface SignedToken {
  url: string;
  scope?: Scope;
  exp: number;
  owner?: string;
  upsert?: boolean;
}

/** Throws InvalidParameter for what Storage refuses as `expiresIn`. */
export function assertValidExpiresIn(expiresIn: number): void {
  const seconds = Math.floor(expiresIn);
  const max = Math.max(0, MAX_ABSOLUTE_EXPIRATION_SECONDS - Math.floor(Date.now() / 1000));
  if (!Number.isFinite(expiresIn) || !Number.isSafeInteger(seconds) || seconds < 1 || seconds > max) {
    throw ERRORS.invalidParameter("expiresIn");
  }
}

export async function signDownloadToken(
  key: CryptoKey,
  url: string,
  expiresInSeconds: number,
): Promise<string> {
  return await sign(key, { url, scope: "download" }, expiresInSeconds);
}

export async function signUploadToken(
  key: CryptoKey,
  fields: { url: string; owner?: string; upsert: boolean },
  expiresInSeconds: number,
): Promise<string> {
  return await sign(
    key,
    { owner: fields.owner, url: fields.url, upsert: fields.upsert, scope: "upload" },
    expiresInSeconds,
  );
}

async function sign(key: CryptoKey, payload: Record<string, unknown>, expiresInSeconds: number) {
  return await new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime(`${Math.floor(expiresInSeconds)}s`)
    .sign(key);
}

/**
 * The token's claims if it opens `<bucket>/<objectKey>` for `scope`:
 * InvalidJWT (jose's reason: a bad signature, a malformed token, an expired
 * one), InvalidSignature for another scope or another object.
 */
export async function verifySignedToken(
  key: CryptoKey,
  token: string,
  bucket: string,
  objectKey: string,
  scope: Scope,
): Promise<SignedToken> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key, { algorithms: ["HS256"] }));
  } catch (error) {
    throw ERRORS.invalidJwt(error instanceof Error ? error.message : undefined);
  }
  const legacy = payload.scope === undefined;
  const scoped = scope === "upload"
    ? payload.scope === "upload" || (legacy && "upsert" in payload)
    : payload.scope === "download" || (legacy && !("upsert" in payload));
  if (!scoped) throw ERRORS.invalidSignature(`Token is not scoped for ${scope}`);
  if (payload.url !== `${bucket}/${objectKey}`) throw ERRORS.invalidSignature();
  if (typeof payload.exp !== "number" || payload.exp * 1000 < Date.now()) throw ERRORS.expiredSignature();
  return payload as unknown as SignedToken;
}
