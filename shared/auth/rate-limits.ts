/** Per-phone and per-client limits of the public auth endpoints. */

export interface Limit {
  max: number;
  windowSeconds: number;
}

export interface RateLimits {
  loginPerPhone: Limit;
  loginPerClient: Limit;
  forgotPerPhone: Limit;
  forgotPerClient: Limit;
  resetPerPhone: Limit;
  resetPerClient: Limit;
}

export const RATE_LIMITS: RateLimits = {
  loginPerPhone: { max: 10, windowSeconds: 15 * 60 },
  loginPerClient: { max: 50, windowSeconds: 15 * 60 },
  forgotPerPhone: { max: 3, windowSeconds: 60 * 60 },
  forgotPerClient: { max: 10, windowSeconds: 60 * 60 },
  resetPerPhone: { max: 10, windowSeconds: 60 * 60 },
  resetPerClient: { max: 30, windowSeconds: 60 * 60 },
};

/** A rate-limit key that does not store the phone or address itself. */
export async function rateLimitKey(name: string, subject: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${name}:${subject}`));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
