/**
 * The keys a Supabase project's services verify JWTs with: its legacy JWT
 * secret and its JWKS (the public keys of its signing keys, as served at
 * /auth/v1/.well-known/jwks.json). Realtime and Storage each pick a key from
 * the token's header by rules of their own (realtime/tokens.ts,
 * storage/auth.ts); the imports are shared and done once per key.
 */
import { importJWK, type JWK } from "jose";

export interface TenantKeys {
  /** The legacy JWT secret (HS256/384/512 tokens, the legacy API keys of an HS256 project). */
  secret: string;
  /** The project's JWKS: public keys only. */
  jwks: { keys: JWK[] };
}

/** The JWK key type of each asymmetric JWT algorithm the services accept. */
export const KEY_TYPE_OF: Readonly<Record<string, string>> = {
  RS256: "RSA",
  RS384: "RSA",
  RS512: "RSA",
  ES256: "EC",
  ES384: "EC",
  ES512: "EC",
  EdDSA: "OKP",
  Ed25519: "OKP",
  Ed448: "OKP",
};

const imported = new WeakMap<JWK, Promise<CryptoKey | Uint8Array>>();

/** A JWKS entry as a verification key for `alg`, imported once. */
export function importPublicJwk(jwk: JWK, alg: string): Promise<CryptoKey | Uint8Array> {
  let key = imported.get(jwk);
  if (!key) {
    key = importJWK(jwk, alg);
    imported.set(jwk, key);
  }
  return key;
}

/** The secret's bytes, the HMAC key of HS* tokens. */
export const secretBytes = (keys: TenantKeys) => new TextEncoder().encode(keys.secret);
