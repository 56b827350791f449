/**
 * Password hashing with Argon2id (OWASP's first choice) from hash-wasm:
 * WebAssembly, so it runs in Supabase's Edge Runtime, which allows no native
 * addons. Parameters: OWASP's minimum for Argon2id (19 MiB, 2 passes, 1 lane).
 */
import { argon2id, argon2Verify } from "hash-wasm";

const PARAMS = { memorySize: 19456, iterations: 2, parallelism: 1, hashLength: 32 };

export async function hashPassword(password: string): Promise<string> {
  return await argon2id({
    ...PARAMS,
    password,
    salt: crypto.getRandomValues(new Uint8Array(16)),
    outputType: "encoded",
  });
}

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  try {
    return await argon2Verify({ password, hash: encoded });
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;

/**
 * Spends the same time as a real verification, for a phone with no user or
 * no password, so that timing does not tell which phones are registered.
 */
export async function verifyAgainstNothing(password: string): Promise<false> {
  dummy ??= hashPassword(crypto.randomUUID());
  await verifyPassword(password, await dummy);
  return false;
}
