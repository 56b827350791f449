/**
 * Password hashing with Argon2id (OWASP's first choice; shared/auth/argon2.ts),
 * run off the requests' event loop (shared/auth/argon2-thread.ts).
 */
import { runArgon2OffThread } from "./argon2-thread.ts";

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return (await runArgon2OffThread({ op: "hash", password, salt })).result as string;
}

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  return (await runArgon2OffThread({ op: "verify", password, encoded })).result === true;
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
