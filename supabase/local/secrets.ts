/**
 * Safe development secrets for the local stack: generated on the first
 * start, kept in the data folder so tokens survive a restart, never used
 * when the environment gives its own.
 */
import { encodeBase64Url } from "./base64.ts";

export interface LocalSecrets {
  jwtSecret: string;
}

export async function loadOrCreateSecrets(dataDir: string): Promise<LocalSecrets & { created: boolean }> {
  const file = `${dataDir}/secrets.json`;
  try {
    const saved = JSON.parse(await Deno.readTextFile(file)) as LocalSecrets;
    if (typeof saved.jwtSecret === "string" && saved.jwtSecret.length >= 32) {
      return { ...saved, created: false };
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const secrets: LocalSecrets = { jwtSecret: encodeBase64Url(crypto.getRandomValues(new Uint8Array(48))) };
  await Deno.mkdir(dataDir, { recursive: true });
  await Deno.writeTextFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return { ...secrets, created: true };
}
