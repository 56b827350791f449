/**
 * Argon2id from hash-wasm: WebAssembly, so it runs in Supabase's Edge
 * Runtime, which allows no native addons. Parameters: OWASP's minimum for
 * Argon2id (19 MiB, 2 passes, 1 lane). Run through shared/auth/password.ts,
 * which moves it off the requests' event loop.
 */
import { argon2id, argon2Verify } from "hash-wasm";

const PARAMS = { memorySize: 19456, iterations: 2, parallelism: 1, hashLength: 32 };

export type Argon2Job =
  | { op: "hash"; password: string; salt: Uint8Array }
  | { op: "verify"; password: string; encoded: string };

/** A hash answers the encoded hash; a verification answers whether it matched (a malformed hash: false). */
export async function runArgon2(job: Argon2Job): Promise<string | boolean> {
  if (job.op === "hash") {
    return await argon2id({ ...PARAMS, password: job.password, salt: job.salt, outputType: "encoded" });
  }
  try {
    return await argon2Verify({ password: job.password, hash: job.encoded });
  } catch {
    return false;
  }
}
