/**
 * What every part of the local Realtime stand-in shares: its settings (the
 * limits and timers of Supabase Realtime, adjustable for tests), the
 * database, the project's JWT keys, the topic registry and the presence
 * tracker, and a logger that is never given payloads or tokens.
 */
import type { Database } from "../../../shared/db/database.ts";
import type { Logger } from "../../../shared/app/logger.ts";
import type { TenantKeys } from "../tenant-keys.ts";
import type { Hub } from "./hub.ts";
import type { PresenceTracker } from "./presence.ts";

export interface RealtimeOptions {
  db: Database;
  /** The project's secret (HS256/384/512 tokens) and JWKS (asymmetric ones): tokens and API keys are verified with them. */
  tenantKeys: TenantKeys;
  /**
   * What the gateway gives a socket for a publishable or secret key in its
   * `apikey` (a JWT of role anon or service_role), undefined for a key that
   * is not the project's. Absent: such keys are refused.
   */
  exchangeApiKey?: (key: string) => Promise<string | undefined>;
  logger?: Logger;
  /**
   * A socket that sends nothing (not even a heartbeat) for this long is closed
   * and its channels leave, presence included. Phoenix's default is 60 s; the
   * consultation contract's presence TTL is 30 s.
   */
  heartbeatTimeoutMs?: number;
  /** Supabase Realtime waits this long before answering a refused join (CHANNEL_ERROR_BACKOFF_MS, 5 s). */
  joinErrorBackoffMs?: number;
  /** The largest broadcast or presence payload accepted, in bytes. */
  maxPayloadBytes?: number;
  /** The largest WebSocket frame accepted; a larger one closes the socket (1009). */
  maxFrameBytes?: number;
  /** Channels one socket may join at once (Supabase: max_channels_per_client, 100). */
  maxChannelsPerSocket?: number;
  /** Presence track/untrack calls a channel may make per window (Supabase: 5 per 30 s). */
  presenceCallsPerWindow?: { max: number; windowMs: number };
  /** A client that falls this far behind (bytes queued on its socket) is disconnected. */
  maxBufferedBytes?: number;
}

export interface Settings {
  heartbeatTimeoutMs: number;
  joinErrorBackoffMs: number;
  maxPayloadBytes: number;
  maxFrameBytes: number;
  maxChannelsPerSocket: number;
  presenceCallsPerWindow: { max: number; windowMs: number };
  maxBufferedBytes: number;
}

export const DEFAULT_SETTINGS: Settings = {
  heartbeatTimeoutMs: 60_000,
  joinErrorBackoffMs: 5_000,
  maxPayloadBytes: 256 * 1024,
  maxFrameBytes: 1024 * 1024,
  maxChannelsPerSocket: 100,
  presenceCallsPerWindow: { max: 5, windowMs: 30_000 },
  maxBufferedBytes: 8 * 1024 * 1024,
};

export function resolveSettings(options: RealtimeOptions): Settings {
  return {
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? DEFAULT_SETTINGS.heartbeatTimeoutMs,
    joinErrorBackoffMs: options.joinErrorBackoffMs ?? DEFAULT_SETTINGS.joinErrorBackoffMs,
    maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_SETTINGS.maxPayloadBytes,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_SETTINGS.maxFrameBytes,
    maxChannelsPerSocket: options.maxChannelsPerSocket ?? DEFAULT_SETTINGS.maxChannelsPerSocket,
    presenceCallsPerWindow: options.presenceCallsPerWindow ?? DEFAULT_SETTINGS.presenceCallsPerWindow,
    maxBufferedBytes: options.maxBufferedBytes ?? DEFAULT_SETTINGS.maxBufferedBytes,
  };
}

export interface Context {
  db: Database;
  tenantKeys: TenantKeys;
  settings: Settings;
  hub: Hub;
  presence: PresenceTracker;
  logger: Logger;
}
