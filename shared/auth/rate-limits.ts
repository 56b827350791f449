/** Per-phone and per-client limits of the public endpoints: sign-in, password reset, WhatsApp. */

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
  /** Inbound WhatsApp messages per sender: past it, no assistant and no reply. */
  whatsappPerPhone: Limit;
  /** The notice that says so, per sender. */
  whatsappNoticePerPhone: Limit;
}

export const RATE_LIMITS: RateLimits = {
  loginPerPhone: { max: 10, windowSeconds: 15 * 60 },
  loginPerClient: { max: 50, windowSeconds: 15 * 60 },
  forgotPerPhone: { max: 3, windowSeconds: 60 * 60 },
  forgotPerClient: { max: 10, windowSeconds: 60 * 60 },
  resetPerPhone: { max: 10, windowSeconds: 60 * 60 },
  resetPerClient: { max: 30, windowSeconds: 60 * 60 },
  whatsappPerPhone: { max: 30, windowSeconds: 10 * 60 },
  whatsappNoticePerPhone: { max: 1, windowSeconds: 10 * 60 },
};

/** A rate-limit key that does not store the phone or address itself. */
export async function rateLimitKey(name: string, subject: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${name}:${subject}`));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
