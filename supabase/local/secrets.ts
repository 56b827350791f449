/**
 * Safe development secrets for the local stack: generated on the first
 * start, kept in the data folder so tokens survive a restart, never used
 * when the environment gives its own.
 */
import { encodeBase64Url } from "./base64.ts";

export interface LocalSecrets {
  jwtSecret: string;
  /** LIVEKIT_API_SECRET of the local stack (key `devkey`). */
  livekitApiSecret: string;
}

export async function loadOrCreateSecrets(dataDir: string): Promise<LocalSecrets & { created: boolean }> {
  const file = `${dataDir}/secrets.json`;
  try {
    const saved = JSON.parse(await Deno.readTextFile(file)) as Partial<LocalSecrets>;
    if (typeof saved.jwtSecret === "string" && saved.jwtSecret.length >= 32) {
      if (typeof saved.livekitApiSecret === "string" && saved.livekitApiSecret.length >= 32) {
        return { ...saved as LocalSecrets, created: false };
      }
      // A data folder from before video: add its secret, keep the JWT secret.
      const upgraded = { jwtSecret: saved.jwtSecret, livekitApiSecret: randomSecret() };
      await Deno.writeTextFile(file, JSON.stringify(upgraded, null, 2), { mode: 0o600 });
      return { ...upgraded, created: false };
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const secrets: LocalSecrets = { jwtSecret: randomSecret(), livekitApiSecret: randomSecret() };
  await Deno.mkdir(dataDir, { recursive: true });
  await Deno.writeTextFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return { ...secrets, created: true };
}

function randomSecret(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(48)));
}
