/**
 * One joined channel of one socket, and what a client may do in it
 * (realtime lib/realtime_web/channels/realtime_channel.ex with its
 * broadcast_handler.ex and presence_handler.ex):
 *
 * - broadcast: to the topic's other readers (and to the sender with
 *   `self`), answered only when `ack` was asked; on a private channel only if
 *   the insert policies allow it (checked once, then cached).
 * - presence track/untrack: answered ok; diffs to every presence reader.
 * - access_token: the new token is verified and the read policies are
 *   evaluated again; a refusal closes the channel with a `system` error.
 * - phx_leave: answered ok, then phx_close.
 *
 * The token is checked again when it expires (or every 5 minutes), as
 * Supabase does: an expired token closes the channel.
 */
import { describeError } from "../../../shared/app/logger.ts";
import {
  authorizeRead,
  authorizeWrite,
  type Extension,
  type Policies,
  unevaluatedPolicies,
} from "./authorization.ts";
import type { Context } from "./context.ts";
import { type Member, topicKey } from "./hub.ts";
import {
  encode,
  isValidJsonBody,
  jsonBroadcast,
  type Message,
  payloadSize,
  reply,
  type Vsn,
} from "./protocol.ts";
import { type Claims, shutdownMessage, verifyToken } from "./tokens.ts";

const CONFIRM_TOKEN_INTERVAL_MS = 5 * 60 * 1000;

/** The socket a channel lives on. */
export interface Transport {
  readonly vsn: Vsn;
  send(frame: string | Uint8Array): void;
  /** The channel has closed itself: forget it. */
  forget(channel: JoinedChannel): void;
}

export interface ChannelConfig {
  clientTopic: string;
  subTopic: string;
  joinRef: string | null;
  isPrivate: boolean;
  ack: boolean;
  self: boolean;
  presenceKey: string;
  presenceEnabled: boolean;
  replicationReady: boolean;
  token: string;
  claims: Claims;
  /** Evaluated at join for a private channel; null for a public one. */
  policies: Policies | null;
}

export class JoinedChannel implements Member {
  readonly topicKey: string;
  readonly clientTopic: string;
  readonly subTopic: string;
  readonly joinRef: string | null;
  readonly isPrivate: boolean;
  #config: ChannelConfig;
  #policies: Policies | null;
  #token: string;
  #claims: Claims;
  #presenceEnabled: boolean;
  #confirmTimer?: ReturnType<typeof setTimeout>;
  #presenceWindow = { count: 0, resetAt: 0 };
  #closed = false;

  constructor(private ctx: Context, private transport: Transport, config: ChannelConfig) {
    this.#config = config;
    this.clientTopic = config.clientTopic;
    this.subTopic = config.subTopic;
    this.joinRef = config.joinRef;
    this.isPrivate = config.isPrivate;
    this.topicKey = topicKey(config.subTopic, config.isPrivate);
    this.#policies = config.policies;
    this.#token = config.token;
    this.#claims = config.claims;
    this.#presenceEnabled = config.presenceEnabled;
  }

  get vsn(): Vsn {
    return this.transport.vsn;
  }

  receivesBroadcasts(): boolean {
    return !this.isPrivate || this.#policies?.broadcast.read === true;
  }

  receivesPresence(): boolean {
    return !this.isPrivate || this.#policies?.presence.read === true;
  }

  deliver(frame: string | Uint8Array) {
    this.transport.send(frame);
  }

  /** Subscribes to the topic; called once the join has been answered ok. */
  open() {
    this.ctx.hub.add(this);
    this.#scheduleTokenCheck();
    if (this.#config.replicationReady) {
      this.#push("system", {
        extension: "system",
        status: "ok",
        message: "Replication connection established",
        channel: this.subTopic,
      });
    }
    if (this.#presenceEnabled && this.receivesPresence()) {
      this.#push("presence_state", this.ctx.presence.list(this.topicKey));
    }
  }

  async handle(message: Message): Promise<void> {
    switch (message.event) {
      case "broadcast":
        return await this.#broadcast(message);
      case "presence":
        return await this.#presence(message);
      case "access_token":
        return await this.#accessToken(message);
      case "phx_leave":
        this.transport.send(reply(this.vsn, message, "ok"));
        return this.close("left");
      default:
        this.ctx.logger.debug("realtime: unexpected event ignored", { event: message.event.slice(0, 64) });
    }
  }

  /**
   * Leaves the topic (presence included). "left" and "closed" tell the client
   * with phx_close, "crashed" with phx_error; "disconnected" tells no one.
   */
  close(why: "left" | "closed" | "crashed" | "disconnected") {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#confirmTimer);
    this.ctx.hub.remove(this);
    const diff = this.ctx.presence.untrack(this.topicKey, this);
    if (diff) this.ctx.hub.presenceDiff(this.topicKey, diff);
    if (why === "left" || why === "closed") this.#push("phx_close", {}, this.joinRef);
    if (why === "crashed") this.#push("phx_error", { reason: "channel_crash" }, this.joinRef);
    if (why !== "disconnected") this.transport.forget(this);
  }

  // -------------------------------------------------------------------------
  // Broadcast
  // -------------------------------------------------------------------------

  async #broadcast(message: Message) {
    const broadcast = message.broadcast ?? jsonBroadcast(message.payload);
    if (!broadcast) {
      this.ctx.logger.debug("realtime: broadcast without an event ignored", { topic: this.subTopic });
      return;
    }
    if (this.isPrivate && !(await this.#mayWrite("broadcast"))) return; // Supabase answers nothing
    const ack = this.#config.ack;
    if (broadcast.body.length > this.ctx.settings.maxPayloadBytes) {
      this.ctx.logger.warn("realtime: broadcast payload too large", {
        topic: this.subTopic,
        bytes: broadcast.body.length,
      });
      if (ack) this.transport.send(reply(this.vsn, message, "error", "payload_size_exceeded"));
      return;
    }
    if (!isValidJsonBody(broadcast)) {
      this.ctx.logger.warn("realtime: broadcast payload is not JSON", { topic: this.subTopic });
      if (ack) this.transport.send(reply(this.vsn, message, "error", "invalid_payload"));
      return;
    }
    this.ctx.hub.broadcast(this.topicKey, broadcast, this.#config.self ? undefined : this);
    if (ack) this.transport.send(reply(this.vsn, message, "ok"));
  }

  /** Whether the insert policies let this caller send `extension` messages (evaluated once). */
  async #mayWrite(extension: Extension): Promise<boolean> {
    const policies = this.#policies ?? unevaluatedPolicies();
    if (policies[extension].write === null) {
      try {
        // Like broadcast_handler.ex: the write check covers every extension, presence included.
        this.#policies = await authorizeWrite(
          this.ctx.db,
          this.#authContext(),
          ["broadcast", "presence"],
          policies,
        );
      } catch (error) {
        this.ctx.logger.error("realtime: RlsPolicyError", { topic: this.subTopic, ...describeError(error) });
        return false;
      }
    }
    return this.#policies?.[extension].write === true;
  }

  // -------------------------------------------------------------------------
  // Presence
  // -------------------------------------------------------------------------

  async #presence(message: Message) {
    const payload = message.payload as Record<string, unknown>;
    if (typeof payload !== "object" || payload === null || typeof payload.event !== "string") {
      return this.transport.send(reply(this.vsn, message, "ok"));
    }
    if (!this.#countPresenceCall()) return this.shutdown("Client presence rate limit exceeded");
    const event = payload.event.toLowerCase();
    if (event === "untrack") {
      const diff = this.ctx.presence.untrack(this.topicKey, this);
      if (diff) this.ctx.hub.presenceDiff(this.topicKey, diff);
      return this.transport.send(reply(this.vsn, message, "ok"));
    }
    if (event !== "track") return this.transport.send(reply(this.vsn, message, "error"));
    if (this.isPrivate && !(await this.#mayTrack())) {
      return this.transport.send(reply(this.vsn, message, "error"));
    }
    const meta = payload.payload ?? {};
    if (typeof meta !== "object" || meta === null || Array.isArray(meta)) {
      return this.transport.send(
        reply(this.vsn, message, "error", { reason: "Presence track payload must be a map" }),
      );
    }
    if (payloadSize(meta) > this.ctx.settings.maxPayloadBytes) {
      return this.shutdown("Track message size exceeded");
    }
    this.#presenceEnabled = true;
    const diff = this.ctx.presence.track(
      this.topicKey,
      this,
      this.#config.presenceKey,
      meta as Record<string, unknown>,
    );
    if (diff) this.ctx.hub.presenceDiff(this.topicKey, diff);
    this.transport.send(reply(this.vsn, message, "ok"));
  }

  /** A private channel's first track also decides whether it may read presence, if the join did not. */
  async #mayTrack(): Promise<boolean> {
    let policies = this.#policies ?? unevaluatedPolicies();
    if (policies.presence.write !== null) return policies.presence.write;
    try {
      if (policies.presence.read === null) {
        policies = await authorizeRead(this.ctx.db, this.#authContext(), ["broadcast", "presence"], policies);
      }
      this.#policies = await authorizeWrite(
        this.ctx.db,
        this.#authContext(),
        ["broadcast", "presence"],
        policies,
      );
    } catch (error) {
      this.ctx.logger.error("realtime: RlsPolicyError", { topic: this.subTopic, ...describeError(error) });
      return false;
    }
    return this.#policies.presence.write === true;
  }

  #countPresenceCall(): boolean {
    const { max, windowMs } = this.ctx.settings.presenceCallsPerWindow;
    const now = Date.now();
    if (now > this.#presenceWindow.resetAt) {
      this.#presenceWindow = { count: 1, resetAt: now + windowMs };
      return true;
    }
    if (this.#presenceWindow.count >= max) return false;
    this.#presenceWindow.count++;
    return true;
  }

  // -------------------------------------------------------------------------
  // Tokens
  // -------------------------------------------------------------------------

  async #accessToken(message: Message) {
    const token = (message.payload as Record<string, unknown> | null)?.access_token;
    if (typeof token !== "string" || token.startsWith("sb_") || token === this.#token) return;
    const previous = this.#policies;
    this.#token = token;
    if (!(await this.#confirmToken())) return;
    if (!this.isPrivate) return;
    const topic = this.subTopic;
    try {
      this.#policies = await authorizeRead(
        this.ctx.db,
        this.#authContext(),
        this.#extensions(),
        unevaluatedPolicies(),
      );
    } catch (error) {
      this.ctx.logger.error("realtime: RlsPolicyError", { topic, ...describeError(error) });
      return this.shutdown(`You do not have permissions to read from this Channel topic: ${topic}`);
    }
    const now = this.#policies;
    if (!now.broadcast.read && !now.presence.read) {
      return this.shutdown(`You do not have permissions to read from this Channel topic: ${topic}`);
    }
    const revoked = (before: boolean | null | undefined, after: boolean | null) =>
      before === true && after === false;
    if (
      revoked(previous?.broadcast.read, now.broadcast.read) ||
      revoked(previous?.presence.read, now.presence.read)
    ) {
      return this.shutdown(`You no longer have permission to read from this Channel topic: ${topic}`);
    }
  }

  /** Verifies the channel's token again; closes the channel and answers false when it no longer holds. */
  async #confirmToken(): Promise<boolean> {
    const result = await verifyToken(this.#token, this.ctx.tenantKeys);
    if (!result.ok) {
      this.shutdown(shutdownMessage(result.failure));
      return false;
    }
    this.#claims = result.claims;
    this.#scheduleTokenCheck();
    return true;
  }

  #scheduleTokenCheck() {
    clearTimeout(this.#confirmTimer);
    const untilExpiry = this.#claims.exp * 1000 - Date.now();
    const delay = Math.max(0, Math.min(CONFIRM_TOKEN_INTERVAL_MS, untilExpiry + 1));
    this.#confirmTimer = setTimeout(() => {
      if (!this.#closed) this.#confirmToken().catch(() => this.close("crashed"));
    }, delay);
  }

  /** Closes the channel with a `system` error, as Supabase's shutdown_response does. */
  shutdown(reason: string) {
    if (this.#closed) return;
    this.ctx.logger.warn("realtime: ChannelShutdown", { topic: this.subTopic, reason: reason.slice(0, 200) });
    this.#push("system", { extension: "system", status: "error", message: reason, channel: this.subTopic });
    this.close("closed");
  }

  // -------------------------------------------------------------------------

  #authContext() {
    return { topic: this.subTopic, claims: this.#claims };
  }

  #extensions(): Extension[] {
    return this.#presenceEnabled ? ["broadcast", "presence"] : ["broadcast"];
  }

  #push(event: string, payload: unknown, ref: string | null = null) {
    this.transport.send(
      encode(this.vsn, { joinRef: this.joinRef, ref, topic: this.clientTopic, event, payload }),
    );
  }
}
