/**
 * One-time codes for password reset: 6 digits, uniformly drawn; stored as an
 * HMAC-SHA256 keyed by a key derived from the JWT secret; checked with
 * WebCrypto's HMAC verify, which compares in constant time.
 */

export function generateOtp(): string {
  // Rejection sampling keeps every one of the 10^6 codes equally likely.
  const buffer = new Uint32Array(1);
  const limit = Math.floor(0x1_0000_0000 / 1_000_000) * 1_000_000;
  do crypto.getRandomValues(buffer); while (buffer[0] >= limit);
  return String(buffer[0] % 1_000_000).padStart(6, "0");
}

const keys = new Map<string, Promise<CryptoKey>>();

function otpKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = (async () => {
      const material = await crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(secret),
        "HKDF",
        false,
        ["deriveKey"],
      );
      return await crypto.subtle.deriveKey(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt: new Uint8Array(0),
          info: new TextEncoder().encode("consultorio otp v1"),
        },
        material,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign", "verify"],
      );
    })();
    keys.set(secret, key);
  }
  return key;
}

const message = (userId: string, code: string) => new TextEncoder().encode(`${userId}:${code}`);
const toHex = (bytes: ArrayBuffer) =>
  Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
const fromHex = (hex: string) => new Uint8Array(hex.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);

export async function hashOtp(secret: string, userId: string, code: string): Promise<string> {
  return toHex(await crypto.subtle.sign("HMAC", await otpKey(secret), message(userId, code)));
}

export async function otpMatches(secret: string, userId: string, code: string, storedHex: string) {
  return await crypto.subtle.verify("HMAC", await otpKey(secret), fromHex(storedHex), message(userId, code));
}
