/**
 * A stand-in for a browser's push service (FCM, Mozilla autopush, Apple), for
 * the tests and local use: it hands out subscriptions as a browser's
 * PushManager.subscribe() does (a P-256 key pair and a 16-byte auth secret of
 * its own, an endpoint URL), receives pushes as RFC 8030 POSTs, checks the
 * VAPID Authorization header (RFC 8292: an ES256 JWT for this origin, signed
 * by the key in `k=`), decrypts the aes128gcm body (RFC 8291, RFC 8188) with
 * the subscription's private key, and keeps what it read. An expired
 * subscription answers 410 Gone, an unknown one 404, as push services do.
 */
import { decodeProtectedHeader, importJWK, jwtVerify } from "jose";

export interface StandInSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface ReceivedPush {
  endpoint: string;
  /** The decrypted payload. */
  payload: string;
  ttl: number;
  urgency: string | null;
  /** The VAPID key that signed it (base64url) and its JWT's subject. */
  vapidKey: string;
  subject: string;
}

export interface PushServiceStandIn {
  origin: string;
  /** A new subscription, as PushManager.subscribe({ applicationServerKey }) returns it. */
  subscribe(applicationServerKey?: string): Promise<StandInSubscription>;
  /** From now on the endpoint answers 410 Gone (the user revoked it, the browser dropped it). */
  expire(endpoint: string): void;
  /** The next push to the endpoint is answered with this status (a push service's 429 or 5xx). */
  failNext(endpoint: string, status: number): void;
  /**
   * The next push to the endpoint is held, unanswered, until release() (a
   * slow push service): `arrived` resolves once it is held.
   */
  stallNext(endpoint: string): { arrived: Promise<void>; release(): void };
  received: ReceivedPush[];
  /** Requests refused, with the reason (bad VAPID, undecryptable body, ...). */
  refused: Array<{ endpoint: string; status: number; reason: string }>;
  close(): Promise<void>;
}

type Bytes = Uint8Array<ArrayBuffer>;

interface Device {
  privateKey: CryptoKey;
  publicRaw: Bytes;
  auth: Bytes;
  applicationServerKey?: string;
  expired: boolean;
  failNext?: number;
  stall?: { arrived: () => void; released: Promise<void> };
}

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const fromB64url = (text: string): Bytes =>
  Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (ch) => ch.charCodeAt(0));
const concat = (...parts: Bytes[]): Bytes => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.length;
  return out;
};
const utf8 = (text: string): Bytes => new TextEncoder().encode(text) as Bytes;

class Refusal extends Error {
  constructor(readonly status: number, reason: string) {
    super(reason);
  }
}

async function hkdf(salt: Bytes, ikm: Bytes, info: Bytes, bytes: number): Promise<Bytes> {
  const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(
    await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, bytes * 8),
  );
}

/** RFC 8291 §3.4 and RFC 8188 §2: one record, the last (padding delimiter 2). */
async function decrypt(device: Device, body: Bytes): Promise<string> {
  if (body.length < 21 + 65 + 17) throw new Refusal(400, "body shorter than an aes128gcm header");
  const salt = body.slice(0, 16);
  const recordSize = new DataView(body.buffer, body.byteOffset + 16, 4).getUint32(0);
  const idLength = body[20];
  if (idLength !== 65) throw new Refusal(400, "keyid is not the sender's P-256 public key");
  const senderRaw = body.slice(21, 21 + 65);
  const ciphertext = body.slice(21 + 65);
  if (ciphertext.length > recordSize) throw new Refusal(400, "more than one record");
  const senderKey = await crypto.subtle.importKey(
    "raw",
    senderRaw,
    { name: "ECDH", namedCurve: "P-256" },
    false,
    [],
  );
  const shared = new Uint8Array(
    await crypto.subtle.deriveBits({ name: "ECDH", public: senderKey }, device.privateKey, 256),
  );
  const keyInfo = concat(utf8("WebPush: info\0"), device.publicRaw, senderRaw);
  const ikm = await hkdf(device.auth, shared, keyInfo, 32);
  const cek = await hkdf(salt, ikm, utf8("Content-Encoding: aes128gcm\0"), 16);
  const nonce = await hkdf(salt, ikm, utf8("Content-Encoding: nonce\0"), 12);
  const aes = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["decrypt"]);
  let plain: Bytes;
  try {
    plain = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce }, aes, ciphertext));
  } catch {
    throw new Refusal(400, "the body does not decrypt with this subscription's keys");
  }
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  if (end < 0 || plain[end] !== 2) throw new Refusal(400, "no last-record padding delimiter");
  return new TextDecoder().decode(plain.slice(0, end));
}

/** RFC 8292: `vapid t=<JWT>, k=<public key>`; the JWT's aud is this origin, exp within 24 hours. */
async function verifyVapid(header: string | null, origin: string, device: Device) {
  const t = /(?:^|[\s,])t=([^,\s]+)/.exec(header ?? "")?.[1];
  const k = /(?:^|[\s,])k=([^,\s]+)/.exec(header ?? "")?.[1];
  if (!header?.toLowerCase().startsWith("vapid ") || !t || !k) {
    throw new Refusal(401, "no VAPID Authorization header");
  }
  if (device.applicationServerKey && k !== device.applicationServerKey) {
    throw new Refusal(403, "signed by another key than the subscription's applicationServerKey");
  }
  const raw = fromB64url(k);
  if (raw.length !== 65 || raw[0] !== 4) throw new Refusal(401, "k is not an uncompressed P-256 point");
  if (decodeProtectedHeader(t).alg !== "ES256") throw new Refusal(401, "the JWT is not ES256");
  const key = await importJWK(
    { kty: "EC", crv: "P-256", x: b64url(raw.slice(1, 33)), y: b64url(raw.slice(33)) },
    "ES256",
  );
  try {
    const { payload } = await jwtVerify(t, key, { audience: origin, algorithms: ["ES256"] });
    if (typeof payload.exp !== "number" || payload.exp > Date.now() / 1000 + 24 * 3600) {
      throw new Refusal(401, "exp missing or more than 24 hours away");
    }
    if (typeof payload.sub !== "string" || !/^(mailto:|https:)/.test(payload.sub)) {
      throw new Refusal(401, "sub is not a mailto: or https: contact");
    }
    return { vapidKey: k, subject: payload.sub };
  } catch (error) {
    if (error instanceof Refusal) throw error;
    throw new Refusal(401, `VAPID JWT refused: ${(error as Error).message}`);
  }
}

export function startPushServiceStandIn(): PushServiceStandIn {
  const devices = new Map<string, Device>();
  const received: ReceivedPush[] = [];
  const refused: PushServiceStandIn["refused"] = [];

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request: Request): Promise<Response> => {
      const url = new URL(request.url);
      const id = /^\/push\/([A-Za-z0-9_-]+)$/.exec(url.pathname)?.[1];
      const device = id ? devices.get(id) : undefined;
      const endpoint: string = `${origin}${url.pathname}`;
      try {
        if (request.method !== "POST") throw new Refusal(405, "POST only");
        if (!device) throw new Refusal(404, "no such subscription");
        if (device.expired) throw new Refusal(410, "subscription expired");
        if (device.failNext) {
          const status = device.failNext;
          device.failNext = undefined;
          throw new Refusal(status, "failing as asked");
        }
        const ttl = request.headers.get("TTL");
        if (ttl === null || !/^\d+$/.test(ttl)) throw new Refusal(400, "no TTL header");
        if (request.headers.get("Content-Encoding") !== "aes128gcm") throw new Refusal(415, "not aes128gcm");
        const vapid = await verifyVapid(request.headers.get("Authorization"), origin, device);
        const body = new Uint8Array(await request.arrayBuffer());
        if (device.stall) {
          const stall = device.stall;
          device.stall = undefined;
          stall.arrived();
          await stall.released; // the sender may have given up by then: received all the same
        }
        if (body.length > 4096) throw new Refusal(413, "more than 4096 bytes");
        const payload = await decrypt(device, body);
        received.push({
          endpoint,
          payload,
          ttl: Number(ttl),
          urgency: request.headers.get("Urgency"),
          ...vapid,
        });
        return new Response(null, {
          status: 201,
          headers: { Location: `${endpoint}/messages/${received.length}` },
        });
      } catch (error) {
        await request.body?.cancel().catch(() => {});
        const status = error instanceof Refusal ? error.status : 500;
        refused.push({ endpoint, status, reason: (error as Error).message });
        return new Response((error as Error).message, { status });
      }
    },
  );
  const origin: string = `http://127.0.0.1:${server.addr.port}`;

  return {
    origin,
    received,
    refused,
    async subscribe(applicationServerKey) {
      const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, [
        "deriveBits",
      ]);
      const publicRaw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
      const auth = crypto.getRandomValues(new Uint8Array(16));
      const id = b64url(crypto.getRandomValues(new Uint8Array(24)));
      devices.set(id, { privateKey: pair.privateKey, publicRaw, auth, applicationServerKey, expired: false });
      return { endpoint: `${origin}/push/${id}`, keys: { p256dh: b64url(publicRaw), auth: b64url(auth) } };
    },
    expire(endpoint) {
      const device = devices.get(endpoint.split("/").pop() ?? "");
      if (device) device.expired = true;
    },
    stallNext(endpoint) {
      const device = devices.get(endpoint.split("/").pop() ?? "");
      const arrived = Promise.withResolvers<void>();
      const released = Promise.withResolvers<void>();
      if (device) device.stall = { arrived: arrived.resolve, released: released.promise };
      return { arrived: arrived.promise, release: released.resolve };
    },
    failNext(endpoint, status) {
      const device = devices.get(endpoint.split("/").pop() ?? "");
      if (device) device.failNext = status;
    },
    close: () => server.shutdown(),
  };
}
