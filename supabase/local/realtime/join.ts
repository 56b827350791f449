/**
 * phx_join, as Supabase Realtime decides it (realtime_channel.ex join/3):
 * the topic, the channel limit, the token (the join's `access_token`, else
 * the socket's API key), and for a private channel the select policies on
 * realtime.messages evaluated as the caller for the topic. A refusal is a
 * `{ reason }` worded like Supabase's, which realtime-js hands to
 * `subscribe()`'s callback as CHANNEL_ERROR.
 */
import { describeError } from "../../../shared/app/logger.ts";
import { authorizeRead, type Extension, type Policies, unevaluatedPolicies } from "./authorization.ts";
import { type ChannelConfig, JoinedChannel, type Transport } from "./channel.ts";
import type { Context } from "./context.ts";
import type { Message } from "./protocol.ts";
import { joinRefusal, verifyToken } from "./tokens.ts";

export const TOPIC_PREFIX = "realtime:";

export type JoinOutcome = { ok: true; channel: JoinedChannel } | { ok: false; reason: string };

export interface JoinRequest {
  message: Message;
  /** The token the socket connected with (its `apikey`). */
  socketToken: string;
  /** Channels the socket has joined already. */
  joined: number;
}

export async function join(ctx: Context, transport: Transport, request: JoinRequest): Promise<JoinOutcome> {
  const { message } = request;
  const subTopic = message.topic.slice(TOPIC_PREFIX.length);
  if (subTopic === "") return refuse("TopicNameRequired: You must provide a topic name");
  const payload = asRecord(message.payload);
  const config = asRecord(payload.config);
  const broadcast = asRecord(config.broadcast);
  const presence = asRecord(config.presence);
  const isPrivate = flag(config.private);
  const presenceEnabled = flag(presence.enabled);

  if (Array.isArray(config.postgres_changes) && config.postgres_changes.some((c) => c != null)) {
    return refuse(
      "PostgresChangesNotSupported: the local stand-in for Realtime serves broadcast and presence only",
    );
  }
  if (request.joined >= ctx.settings.maxChannelsPerSocket) {
    return refuse("ChannelRateLimitReached: Too many channels");
  }

  const token = chooseToken(payload, request.socketToken);
  const verified = await verifyToken(token, ctx.tenantKeys);
  if (!verified.ok) return refuse(joinRefusal(verified.failure));

  let policies: Policies | null = null;
  if (isPrivate) {
    const extensions: Extension[] = presenceEnabled ? ["broadcast", "presence"] : ["broadcast"];
    const unauthorized =
      `Unauthorized: You do not have permissions to read from this Channel topic: ${subTopic}`;
    try {
      policies = await authorizeRead(
        ctx.db,
        { topic: subTopic, claims: verified.claims },
        extensions,
        unevaluatedPolicies(),
      );
    } catch (error) {
      ctx.logger.error("realtime: RlsPolicyError", { topic: subTopic, ...describeError(error) });
      return refuse(unauthorized);
    }
    if (!policies.broadcast.read && !policies.presence.read) return refuse(unauthorized);
  }

  const channelConfig: ChannelConfig = {
    clientTopic: message.topic,
    subTopic,
    joinRef: message.joinRef,
    isPrivate,
    ack: flag(broadcast.ack),
    self: flag(broadcast.self),
    presenceKey: presenceKeyOf(presence.key),
    presenceEnabled,
    replicationReady: flag(broadcast.replication_ready),
    token: token as string,
    claims: verified.claims,
    policies,
  };
  return { ok: true, channel: new JoinedChannel(ctx, transport, channelConfig) };
}

function refuse(reason: string): JoinOutcome {
  return { ok: false, reason };
}

/** The join's access_token (or user_token), unless absent or an `sb_` key: then the socket's token. */
function chooseToken(payload: Record<string, unknown>, socketToken: string): unknown {
  const given = payload.access_token ?? payload.user_token;
  if (typeof given === "string" && given.startsWith("sb_")) return socketToken;
  return typeof given === "string" ? given : socketToken;
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}

/** Supabase's FlexibleBoolean: true/false or their string forms; anything else is the default, false. */
function flag(value: unknown): boolean {
  if (typeof value === "boolean") return value;
  return typeof value === "string" && value.toLowerCase() === "true";
}

function presenceKeyOf(key: unknown): string {
  if (key === undefined || key === null || key === "") return crypto.randomUUID();
  return typeof key === "string" ? key : JSON.stringify(key);
}
