/**
 * Who is subscribed to what, and the fan-out (realtime
 * lib/realtime_web/channels/realtime_channel/message_dispatcher.ex): a
 * private topic and a public topic of the same name are different topics;
 * a broadcast reaches a private subscriber only if it may read broadcasts,
 * a presence diff only if it may read presence; each frame is encoded once
 * per protocol version.
 */
import { encode, encodeBroadcast, type UserBroadcast, type Vsn } from "./protocol.ts";
import type { PresenceDiff } from "./presence.ts";

/** A joined channel, as the fan-out sees it. */
export interface Member {
  /** `private:<topic>` or `public:<topic>`. */
  readonly topicKey: string;
  /** The topic the client joined, `realtime:<topic>`. */
  readonly clientTopic: string;
  readonly vsn: Vsn;
  receivesBroadcasts(): boolean;
  receivesPresence(): boolean;
  deliver(frame: string | Uint8Array): void;
}

export const topicKey = (subTopic: string, isPrivate: boolean) =>
  `${isPrivate ? "private" : "public"}:${subTopic}`;

export class Hub {
  #topics = new Map<string, Set<Member>>();

  add(member: Member) {
    const members = this.#topics.get(member.topicKey) ?? new Set<Member>();
    members.add(member);
    this.#topics.set(member.topicKey, members);
  }

  remove(member: Member) {
    const members = this.#topics.get(member.topicKey);
    if (!members) return;
    members.delete(member);
    if (members.size === 0) this.#topics.delete(member.topicKey);
  }

  /** Sends a broadcast to the topic's readers, except `from` (a sender without `self`); answers how many got it. */
  broadcast(key: string, message: UserBroadcast, from?: Member): number {
    const frames = new Map<string, string | Uint8Array | undefined>();
    let delivered = 0;
    for (const member of this.#topics.get(key) ?? []) {
      if (member === from || !member.receivesBroadcasts()) continue;
      const cacheKey = `${member.vsn}\u0000${member.clientTopic}`;
      if (!frames.has(cacheKey)) {
        frames.set(cacheKey, encodeBroadcast(member.vsn, member.clientTopic, message));
      }
      const frame = frames.get(cacheKey);
      if (frame === undefined) continue;
      member.deliver(frame);
      delivered++;
    }
    return delivered;
  }

  /** Sends a presence diff to the topic's presence readers, the one who changed included. */
  presenceDiff(key: string, diff: PresenceDiff) {
    const frames = new Map<string, string>();
    for (const member of this.#topics.get(key) ?? []) {
      if (!member.receivesPresence()) continue;
      const cacheKey = `${member.vsn}\u0000${member.clientTopic}`;
      let frame = frames.get(cacheKey);
      if (frame === undefined) {
        frame = encode(member.vsn, {
          joinRef: null,
          ref: null,
          topic: member.clientTopic,
          event: "presence_diff",
          payload: diff,
        });
        frames.set(cacheKey, frame);
      }
      member.deliver(frame);
    }
  }
}
