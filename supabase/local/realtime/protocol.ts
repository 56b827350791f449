/**
 * The wire format of Phoenix channels as Supabase Realtime speaks it, for the
 * two serializers @supabase/realtime-js can ask for with `?vsn=`:
 *
 * - 1.0.0: JSON objects `{ join_ref, ref, topic, event, payload }`.
 * - 2.0.0 (realtime-js's default): JSON arrays `[join_ref, ref, topic, event,
 *   payload]`, plus two binary frames for broadcasts
 *   (realtime lib/realtime_web/socket/v2_serializer.ex,
 *   realtime-js src/lib/serializer.ts): the client pushes a broadcast as a
 *   "user broadcast push" (kind 3) and receives one as a "user broadcast"
 *   (kind 4), the user payload travelling as opaque JSON text or bytes.
 */

export type Vsn = "1.0.0" | "2.0.0";

export function parseVsn(value: string | null): Vsn | undefined {
  if (value === null || value === "1.0.0") return "1.0.0"; // Phoenix's default when none is asked for
  if (value === "2.0.0") return "2.0.0";
  return undefined;
}

/** One message, whatever its encoding. */
export interface Message {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: unknown;
  /** A broadcast pushed as a binary frame (2.0.0), with its user payload left opaque. */
  broadcast?: UserBroadcast;
}

/** A broadcast whose user payload is opaque to the server (Supabase's UserBroadcast). */
export interface UserBroadcast {
  event: string;
  encoding: "json" | "binary";
  /** JSON text (when encoding is json) or raw bytes. */
  body: Uint8Array;
  meta?: Record<string, unknown>;
}

/** A frame that is not a message of the protocol. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

const KIND_USER_BROADCAST_PUSH = 3;
const KIND_USER_BROADCAST = 4;
const ENCODING_BINARY = 0;
const ENCODING_JSON = 1;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

// ---------------------------------------------------------------------------
// Decoding what a client sends
// ---------------------------------------------------------------------------

export function decode(vsn: Vsn, data: string | ArrayBuffer): Message {
  if (typeof data !== "string") {
    if (vsn !== "2.0.0") throw new ProtocolError("binary frames need vsn 2.0.0");
    return decodeBinary(new Uint8Array(data));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    throw new ProtocolError("not JSON");
  }
  if (vsn === "2.0.0") {
    if (!Array.isArray(parsed) || parsed.length < 5) throw new ProtocolError("expected a V2 array");
    const [joinRef, ref, topic, event, payload] = parsed;
    return checked({ joinRef, ref, topic, event, payload });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ProtocolError("expected a V1 object");
  }
  const m = parsed as Record<string, unknown>;
  return checked({
    joinRef: m.join_ref ?? null,
    ref: m.ref ?? null,
    topic: m.topic,
    event: m.event,
    payload: m.payload,
  });
}

function checked(m: Record<Exclude<keyof Message, "broadcast">, unknown>): Message {
  const isRef = (v: unknown) => v === null || v === undefined || typeof v === "string";
  if (!isRef(m.joinRef) || !isRef(m.ref)) throw new ProtocolError("refs must be strings or null");
  if (typeof m.topic !== "string" || typeof m.event !== "string") {
    throw new ProtocolError("topic and event must be strings");
  }
  return {
    joinRef: (m.joinRef as string | null | undefined) ?? null,
    ref: (m.ref as string | null | undefined) ?? null,
    topic: m.topic,
    event: m.event,
    payload: m.payload ?? {},
  };
}

/** Kind 3: kind, join_ref, ref, topic, user event, metadata sizes, encoding; then those fields; then the payload. */
function decodeBinary(bytes: Uint8Array): Message {
  if (bytes.length < 7 || bytes[0] !== KIND_USER_BROADCAST_PUSH) {
    throw new ProtocolError("unsupported binary frame");
  }
  const sizes = [bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]];
  const encoding = bytes[6];
  if (encoding !== ENCODING_BINARY && encoding !== ENCODING_JSON) throw new ProtocolError("unknown encoding");
  let offset = 7;
  const [joinRef, ref, topic, event, _metadata] = sizes.map((size) => {
    if (offset + size > bytes.length) throw new ProtocolError("truncated binary frame");
    const field = bytes.subarray(offset, offset + size);
    offset += size;
    try {
      return fromUtf8.decode(field);
    } catch {
      throw new ProtocolError("binary frame field is not UTF-8");
    }
  });
  const broadcast: UserBroadcast = {
    event,
    encoding: encoding === ENCODING_JSON ? "json" : "binary",
    body: bytes.slice(offset),
  };
  return { joinRef: joinRef || null, ref: ref || null, topic, event: "broadcast", payload: {}, broadcast };
}

// ---------------------------------------------------------------------------
// Encoding what the server sends
// ---------------------------------------------------------------------------

/** A JSON message (replies, pushes, presence). */
export function encode(vsn: Vsn, m: Message): string {
  if (vsn === "2.0.0") return JSON.stringify([m.joinRef, m.ref, m.topic, m.event, m.payload]);
  return JSON.stringify({
    join_ref: m.joinRef,
    ref: m.ref,
    topic: m.topic,
    event: m.event,
    payload: m.payload,
  });
}

export function reply(
  vsn: Vsn,
  to: { joinRef: string | null; ref: string | null; topic: string },
  status: "ok" | "error",
  response: unknown = {},
): string {
  return encode(vsn, {
    joinRef: to.joinRef,
    ref: to.ref,
    topic: to.topic,
    event: "phx_reply",
    payload: { status, response },
  });
}

/**
 * A broadcast for a subscriber: the kind 4 binary frame on 2.0.0 (JSON text
 * frame when a field is too long for it), a JSON message on 1.0.0 (which
 * cannot carry a binary payload: undefined then, as Supabase skips it).
 */
export function encodeBroadcast(vsn: Vsn, topic: string, b: UserBroadcast): string | Uint8Array | undefined {
  const metaText = b.meta ? JSON.stringify(b.meta) : "";
  if (vsn === "2.0.0") {
    const topicBytes = utf8.encode(topic);
    const eventBytes = utf8.encode(b.event);
    const metaBytes = utf8.encode(metaText);
    if (topicBytes.length <= 255 && eventBytes.length <= 255 && metaBytes.length <= 255) {
      const header = [
        KIND_USER_BROADCAST,
        topicBytes.length,
        eventBytes.length,
        metaBytes.length,
        b.encoding === "json" ? ENCODING_JSON : ENCODING_BINARY,
      ];
      const frame = new Uint8Array(
        header.length + topicBytes.length + eventBytes.length + metaBytes.length + b.body.length,
      );
      let offset = 0;
      for (const part of [Uint8Array.from(header), topicBytes, eventBytes, metaBytes, b.body]) {
        frame.set(part, offset);
        offset += part.length;
      }
      return frame;
    }
  }
  if (b.encoding !== "json") return undefined;
  const payload =
    `{"type":"broadcast","event":${JSON.stringify(b.event)},"payload":${fromUtf8.decode(b.body)}` +
    (metaText ? `,"meta":${metaText}}` : "}");
  return vsn === "2.0.0"
    ? `[null,null,${JSON.stringify(topic)},"broadcast",${payload}]`
    : `{"join_ref":null,"ref":null,"topic":${
      JSON.stringify(topic)
    },"event":"broadcast","payload":${payload}}`;
}

/** The size of a payload as the limits count it. */
export function payloadSize(payload: unknown): number {
  if (payload instanceof Uint8Array) return payload.length;
  return utf8.encode(JSON.stringify(payload) ?? "").length;
}

/** A broadcast pushed as JSON (`{ type: "broadcast", event, payload }`), as a UserBroadcast. */
export function jsonBroadcast(payload: unknown): UserBroadcast | undefined {
  if (typeof payload !== "object" || payload === null) return undefined;
  const p = payload as Record<string, unknown>;
  if (typeof p.event !== "string") return undefined;
  return { event: p.event, encoding: "json", body: utf8.encode(JSON.stringify(p.payload ?? null)) };
}

/** Whether a JSON-encoded user payload really is JSON (receivers parse it). */
export function isValidJsonBody(b: UserBroadcast): boolean {
  if (b.encoding !== "json") return true;
  try {
    JSON.parse(fromUtf8.decode(b.body));
    return true;
  } catch {
    return false;
  }
}
