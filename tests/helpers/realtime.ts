/**
 * supabase-js clients for Realtime and Storage as a frontend makes them:
 * the `accessToken` option hands supabase-js a platform token minted by
 * POST /v1/auth/realtime-token from the API session, fetched again once half
 * its life is gone. realtime-js calls it on connect and on every heartbeat
 * and sends a changed token to its channels (`access_token`); once the
 * session is dead the mint is refused, the channel keeps its old token, and
 * Realtime closes the channel when that token expires.
 */
import { createClient, type RealtimeChannel, type SupabaseClient } from "@supabase/supabase-js";
import { call, type TestStack } from "./stack.ts";
import { recordSensitive } from "./log-audit.ts";

/** An accessToken callback: the cached platform token, or a fresh one past half its life. */
export function platformTokenSource(s: TestStack, apiToken: string): () => Promise<string> {
  let current: { token: string; refreshAt: number } | undefined;
  let pending: Promise<string> | undefined;
  const mint = async () => {
    const res = await call(s, "POST", "/v1/auth/realtime-token", { token: apiToken });
    if (res.status !== 200) throw new Error(`realtime-token refused: ${res.status}`);
    const { token, expiresAt } = res.body.data as { token: string; expiresAt: string };
    recordSensitive(token);
    current = { token, refreshAt: Date.now() + (Date.parse(expiresAt) - Date.now()) / 2 };
    return token;
  };
  return async () => {
    if (current && Date.now() < current.refreshAt) return current.token;
    pending ??= mint().finally(() => pending = undefined);
    return await pending;
  };
}

export interface PlatformClientOptions {
  /** Another Realtime than the stack's (realtime.test.ts serves its own). */
  origin?: string;
  /** realtime-js refreshes the token on each heartbeat (default 25 s); a short token lifetime needs less. */
  heartbeatIntervalMs?: number;
  /** Called instead of minting (to count or fail refreshes). */
  accessToken?: () => Promise<string>;
}

export async function platformClient(
  s: TestStack,
  apiToken: string,
  options: PlatformClientOptions = {},
): Promise<SupabaseClient> {
  const client = createClient(options.origin ?? s.origin, s.stack.anonKey, {
    accessToken: options.accessToken ?? platformTokenSource(s, apiToken),
    realtime: options.heartbeatIntervalMs ? { heartbeatIntervalMs: options.heartbeatIntervalMs } : {},
  });
  await client.realtime.setAuth(); // the first token, before any channel joins
  return client;
}

/** Subscribes and answers the first status (SUBSCRIBED, CHANNEL_ERROR, TIMED_OUT or CLOSED). */
export function subscribe(channel: RealtimeChannel): Promise<{ status: string; err?: Error }> {
  return new Promise((resolve) => {
    let done = false;
    channel.subscribe((status, err) => {
      if (done) return;
      done = true;
      resolve({ status, err });
    });
  });
}

// deno-lint-ignore no-explicit-any
type Payload = any;

/** Every broadcast the channel hears from now on, in order. */
export function heard(channel: RealtimeChannel): Array<{ event: string; payload: Payload }> {
  const seen: Array<{ event: string; payload: Payload }> = [];
  channel.on(
    "broadcast",
    { event: "*" },
    (message) => seen.push({ event: message.event, payload: message.payload }),
  );
  return seen;
}
