/**
 * Safe development secrets for the local stack: generated on the first
 * start, kept in the data folder (mode 0600) so tokens survive a restart,
 * never used when the environment gives its own. A data folder from an
 * earlier version gets what it lacks and keeps what it has.
 */
import { generateSigningKey, type PrivateJwk } from "../../shared/auth/jwt.ts";
import { encodeBase64Url } from "./base64.ts";

export interface LocalSecrets {
  /** The project's legacy JWT secret (HS256): Storage's signed URLs, and the HS256 mode. */
  jwtSecret: string;
  /** LIVEKIT_API_SECRET of the local stack (key `devkey`). */
  livekitApiSecret: string;
  /** The project's JWT signing keys (private JWKs; the first signs), ES256. */
  signingKeys: PrivateJwk[];
  /** The project's API keys, in Supabase's format. */
  publishableKey: string;
  secretKey: string;
  /** The local VAPID key pair (Web Push), base64url: the raw P-256 public point and private scalar. */
  vapid: { publicKey: string; privateKey: string };
}

export async function loadOrCreateSecrets(dataDir: string): Promise<LocalSecrets & { created: boolean }> {
  const file = `${dataDir}/secrets.json`;
  let saved: Partial<LocalSecrets> = {};
  try {
    saved = JSON.parse(await Deno.readTextFile(file)) as Partial<LocalSecrets>;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const secrets: LocalSecrets = {
    jwtSecret: long(saved.jwtSecret) ?? randomSecret(),
    livekitApiSecret: long(saved.livekitApiSecret) ?? randomSecret(),
    signingKeys: Array.isArray(saved.signingKeys) && saved.signingKeys.length
      ? saved.signingKeys
      : [await generateSigningKey()],
    publishableKey: saved.publishableKey?.startsWith("sb_publishable_")
      ? saved.publishableKey
      : `sb_publishable_${randomSecret(16)}`,
    secretKey: saved.secretKey?.startsWith("sb_secret_") ? saved.secretKey : `sb_secret_${randomSecret(16)}`,
    vapid: saved.vapid?.publicKey?.length === 87 && saved.vapid.privateKey?.length === 43
      ? saved.vapid
      : await generateVapidKeys(),
  };
  const changed = JSON.stringify(secrets) !== JSON.stringify({ ...saved });
  if (changed) {
    await Deno.mkdir(dataDir, { recursive: true });
    await Deno.writeTextFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
    await Deno.chmod(file, 0o600).catch(() => {});
  }
  return { ...secrets, created: !saved.jwtSecret };
}

const long = (value: unknown) => typeof value === "string" && value.length >= 32 ? value : undefined;

function randomSecret(bytes = 48): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** A VAPID key pair as `web-push generate-vapid-keys` prints it. */
async function generateVapidKeys(): Promise<{ publicKey: string; privateKey: string }> {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  return { publicKey: encodeBase64Url(raw), privateKey: jwk.d! };
}
