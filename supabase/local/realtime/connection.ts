/**
 * One client WebSocket, as Phoenix.Socket runs it (phoenix lib/phoenix/socket.ex):
 * frames are handled one at a time, in order; a heartbeat on topic "phoenix"
 * is answered ok; phx_join opens a channel (a second join of a topic closes
 * the first); other messages go to the topic's channel, or are answered
 * `unmatched topic`. A socket silent for longer than the heartbeat timeout is
 * closed and its channels leave, presence included.
 *
 * Nothing a client sends crashes the server: an undecodable or oversized
 * frame closes this socket, an error inside a channel closes that channel
 * with phx_error. Logs carry topics, events and sizes, never payloads.
 */
import { describeError } from "../../../shared/app/logger.ts";
import { type JoinedChannel, type Transport } from "./channel.ts";
import type { Context } from "./context.ts";
import { join, TOPIC_PREFIX } from "./join.ts";
import { decode, type Message, ProtocolError, reply, type Vsn } from "./protocol.ts";

const CLOSE_NORMAL = 1000;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_INVALID_DATA = 1007;
const CLOSE_TOO_BIG = 1009;
const CLOSE_TRY_AGAIN_LATER = 1013;

export class Connection implements Transport {
  #channels = new Map<string, JoinedChannel>();
  #queue: Promise<void> = Promise.resolve();
  #idleTimer?: ReturnType<typeof setTimeout>;
  #ended = false;

  constructor(
    private ctx: Context,
    private socket: WebSocket,
    readonly vsn: Vsn,
    /** The API key the socket connected with. */
    private socketToken: string,
    private onEnd: (connection: Connection) => void,
  ) {
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => this.#receive(event.data);
    socket.onclose = () => this.#end();
    socket.onerror = () => this.#end();
    this.#resetIdleTimer();
  }

  send(frame: string | Uint8Array) {
    if (this.#ended || this.socket.readyState !== WebSocket.OPEN) return;
    if (this.socket.bufferedAmount > this.ctx.settings.maxBufferedBytes) {
      this.ctx.logger.warn("realtime: slow client disconnected", { buffered: this.socket.bufferedAmount });
      return this.close(CLOSE_TRY_AGAIN_LATER, "slow consumer");
    }
    this.socket.send(frame);
  }

  forget(channel: JoinedChannel) {
    if (this.#channels.get(channel.clientTopic) === channel) this.#channels.delete(channel.clientTopic);
  }

  /** Closes the socket; its channels leave at once (a dead peer may never finish the close handshake). */
  close(code = CLOSE_GOING_AWAY, reason = "server closing") {
    this.#end();
    try {
      this.socket.close(code, reason);
    } catch { /* already closed */ }
  }

  #end() {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#idleTimer);
    for (const channel of this.#channels.values()) channel.close("disconnected");
    this.#channels.clear();
    this.onEnd(this);
  }

  #resetIdleTimer() {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.ctx.logger.info("realtime: heartbeat timeout", { channels: this.#channels.size });
      this.close(CLOSE_NORMAL, "heartbeat timeout");
    }, this.ctx.settings.heartbeatTimeoutMs);
  }

  #receive(data: unknown) {
    if (this.#ended) return;
    this.#resetIdleTimer();
    const limit = this.ctx.settings.maxFrameBytes;
    const size = typeof data === "string"
      ? byteLength(data, limit)
      : data instanceof ArrayBuffer
      ? data.byteLength
      : -1;
    if (size > limit) {
      this.ctx.logger.warn("realtime: frame too large", { bytes: size });
      return this.close(CLOSE_TOO_BIG, "message too big");
    }
    let message: Message;
    try {
      if (size < 0) throw new ProtocolError("unsupported frame type");
      message = decode(this.vsn, data as string | ArrayBuffer);
    } catch (error) {
      this.ctx.logger.warn("realtime: malformed frame", { reason: (error as Error).message, bytes: size });
      return this.close(CLOSE_INVALID_DATA, "malformed message");
    }
    this.#queue = this.#queue.then(() => this.#route(message)).catch((error) =>
      this.#crashed(message, error)
    );
  }

  async #route(message: Message) {
    if (this.#ended) return;
    if (message.topic === "phoenix" && message.event === "heartbeat") {
      return this.send(reply(this.vsn, { joinRef: null, ref: message.ref, topic: "phoenix" }, "ok"));
    }
    if (message.event === "phx_join") return await this.#join(message);
    const channel = this.#channels.get(message.topic);
    if (!channel) {
      // phx_leave of a channel the server already dropped is answered ok, anything else `unmatched topic`.
      return message.event === "phx_leave"
        ? this.send(reply(this.vsn, message, "ok"))
        : this.send(reply(this.vsn, { ...message, joinRef: null }, "error", { reason: "unmatched topic" }));
    }
    if (message.joinRef !== null && message.joinRef !== channel.joinRef) return; // stale: meant for an earlier join
    await channel.handle(message);
  }

  async #join(message: Message) {
    if (!message.topic.startsWith(TOPIC_PREFIX)) {
      this.ctx.logger.warn("realtime: join of an unmatched topic", { topic: message.topic.slice(0, 64) });
      return this.send(
        reply(this.vsn, { ...message, joinRef: null }, "error", { reason: "unmatched topic" }),
      );
    }
    this.#channels.get(message.topic)?.close("closed"); // a duplicate join closes the existing channel
    const outcome = await join(this.ctx, this, {
      message,
      socketToken: this.socketToken,
      joined: this.#channels.size,
    });
    if (this.#ended) {
      if (outcome.ok) outcome.channel.close("disconnected");
      return;
    }
    if (!outcome.ok) {
      this.ctx.logger.info("realtime: join refused", { topic: message.topic, reason: outcome.reason });
      await sleep(this.ctx.settings.joinErrorBackoffMs);
      return this.send(reply(this.vsn, message, "error", { reason: outcome.reason }));
    }
    this.#channels.set(message.topic, outcome.channel);
    this.send(reply(this.vsn, message, "ok", { postgres_changes: [] }));
    outcome.channel.open();
  }

  #crashed(message: Message, error: unknown) {
    this.ctx.logger.error("realtime: channel crashed", {
      topic: message.topic.slice(0, 64),
      event: message.event.slice(0, 64),
      ...describeError(error),
    });
    this.#channels.get(message.topic)?.close("crashed");
  }
}

/** The UTF-8 size of `text`, counted exactly only near `limit` (UTF-8 takes 1 to 3 bytes per UTF-16 unit). */
function byteLength(text: string, limit: number): number {
  return text.length * 3 <= limit || text.length > limit
    ? text.length
    : new TextEncoder().encode(text).length;
}

const sleep = (ms: number) => new Promise<void>((resolve) => ms > 0 ? setTimeout(resolve, ms) : resolve());
