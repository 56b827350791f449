/**
 * Web Push: the payload encrypted for the device (RFC 8291, aes128gcm) and
 * signed for the push service (VAPID, RFC 8292) by the `web-push` package,
 * posted (RFC 8030) with fetch. web-push's own sender goes through node's
 * https module and has no abort; fetch runs the same on Deno and on
 * Supabase's Edge Runtime and stops at the timeout.
 */
import webpush from "web-push";
import type { PushConfig } from "../../config.ts";

export interface PushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface PushOptions {
  urgency: "normal" | "high";
  /** Seconds the push service keeps it for an offline device. */
  ttlSeconds: number;
}

/**
 * What the push service answered: delivered (2xx); gone, the subscription
 * expired or was never there (404, 410); or failed (anything else, a
 * timeout, a network error), worth another try.
 */
export type PushOutcome = "delivered" | "gone" | "failed";

export interface PushSender {
  readonly configured: boolean;
  /** The VAPID public key a browser subscribes with (applicationServerKey). */
  readonly publicKey: string | undefined;
  send(subscription: PushSubscription, payload: string, options: PushOptions): Promise<PushOutcome>;
}

interface RequestDetails {
  method: string;
  headers: Record<string, string | number>;
  body: Uint8Array | null;
  endpoint: string;
}

type GenerateRequestDetails = (
  subscription: PushSubscription,
  payload: string,
  options: Record<string, unknown>,
) => RequestDetails;

const generateRequestDetails = (webpush as unknown as { generateRequestDetails: GenerateRequestDetails })
  .generateRequestDetails;

export function createPushSender(config: PushConfig, fetchImpl: typeof fetch = fetch): PushSender {
  const vapid = config.vapid;
  return {
    configured: vapid !== undefined,
    publicKey: vapid?.publicKey,
    async send(subscription, payload, options) {
      if (!vapid) return "failed";
      const details = generateRequestDetails(subscription, payload, {
        vapidDetails: vapid,
        TTL: options.ttlSeconds,
        urgency: options.urgency,
        contentEncoding: "aes128gcm",
      });
      const headers = Object.fromEntries(Object.entries(details.headers).map(([k, v]) => [k, String(v)]));
      try {
        const res = await fetchImpl(details.endpoint, {
          method: details.method,
          headers,
          body: details.body as Uint8Array<ArrayBuffer> | null,
          redirect: "manual",
          signal: AbortSignal.timeout(config.timeoutMs),
        });
        await res.body?.cancel();
        if (res.ok) return "delivered";
        return res.status === 404 || res.status === 410 ? "gone" : "failed";
      } catch {
        return "failed";
      }
    },
  };
}
