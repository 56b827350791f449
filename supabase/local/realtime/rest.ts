/**
 * Realtime's HTTP broadcast API, which realtime-js uses for `httpSend()` and
 * when `send()` is called on a channel that has not joined
 * (realtime lib/realtime_web/controllers/broadcast_controller.ex,
 * broadcast_single_controller.ex, lib/realtime/tenants/batch_broadcast.ex):
 *
 * - POST /api/broadcast `{ messages: [{ topic, event, payload, private?, id? }] }`
 * - POST /api/broadcast/:topic/events/:event[?private=true], a JSON or binary body
 *
 * The caller is the `Authorization: Bearer` token, else the `apikey` header.
 * Public messages always go out; private ones only if the insert policies on
 * realtime.messages let the caller write to the topic (silently dropped
 * otherwise, as Supabase does). Success is 202 with no body.
 */
import { describeError } from "../../../shared/app/logger.ts";
import { authorizeWrite, unevaluatedPolicies } from "./authorization.ts";
import type { Context } from "./context.ts";
import { topicKey } from "./hub.ts";
import type { UserBroadcast } from "./protocol.ts";
import { type Claims, verifyToken } from "./tokens.ts";

const CORS_HEADERS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "POST, OPTIONS",
  "Access-Control-Allow-Headers": "authorization, apikey, content-type, x-client-info",
};

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { ...CORS_HEADERS, "Content-Type": "application/json" },
  });

const accepted = () => new Response(null, { status: 202, headers: CORS_HEADERS });

interface Outgoing {
  topic: string;
  isPrivate: boolean;
  message: UserBroadcast;
}

/** Answers a request under /api/broadcast; `path` is the part after /realtime/v1. */
export async function handleBroadcastApi(ctx: Context, request: Request, path: string): Promise<Response> {
  if (request.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS_HEADERS });
  if (request.method !== "POST") return json(405, { message: "Method not allowed" });
  const claims = await caller(ctx, request);
  if (!claims) return json(401, { message: "Unauthorized" });
  const body = await readBody(request, ctx.settings.maxFrameBytes);
  if (!body) return json(413, { message: "Payload too large" });

  const single = /^\/api\/broadcast\/([^/]+)\/events\/([^/]+)\/?$/.exec(path);
  const parsed = single
    ? singleMessage(request, body, decodeURIComponent(single[1]), decodeURIComponent(single[2]), ctx)
    : batchMessages(body, ctx);
  if ("status" in parsed) return parsed.response;
  await send(ctx, claims, parsed.messages);
  return accepted();
}

async function caller(ctx: Context, request: Request): Promise<Claims | undefined> {
  const authorization = request.headers.get("authorization");
  const bearer = authorization && /^bearer\s+(\S+)$/i.exec(authorization.trim())?.[1];
  const token = bearer || request.headers.get("apikey");
  if (!token) return undefined;
  const verified = await verifyToken(token, ctx.tenantKeys);
  return verified.ok ? verified.claims : undefined;
}

async function readBody(request: Request, limit: number): Promise<Uint8Array | undefined> {
  if (Number(request.headers.get("content-length") ?? 0) > limit) return undefined;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body ?? []) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}

type Parsed = { messages: Outgoing[] } | { status: number; response: Response };

function singleMessage(
  request: Request,
  body: Uint8Array,
  topic: string,
  event: string,
  ctx: Context,
): Parsed {
  const isPrivate = new URL(request.url).searchParams.get("private") === "true";
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json" && type !== "application/octet-stream") {
    return invalid(415, { message: "Unsupported content type" });
  }
  if (body.length > ctx.settings.maxPayloadBytes) {
    return invalid(422, { errors: { payload: ["Payload size exceeds tenant limit"] } });
  }
  if (type === "application/octet-stream") {
    return { messages: [{ topic, isPrivate, message: { event, encoding: "binary", body } }] };
  }
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return invalid(400, { message: "Invalid JSON body" });
  }
  if (payload === null) return invalid(422, { errors: { payload: ["can't be blank"] } });
  return { messages: [{ topic, isPrivate, message: jsonMessage(event, payload) }] };
}

function batchMessages(body: Uint8Array, ctx: Context): Parsed {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return invalid(400, { message: "Invalid JSON body" });
  }
  const list = (parsed as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(list) || list.length === 0) {
    return invalid(422, { errors: { messages: ["can't be blank"] } });
  }
  const errors = list.map((m) => messageErrors(m, ctx));
  if (errors.some((e) => Object.keys(e).length > 0)) return invalid(422, { errors: { messages: errors } });
  return {
    messages: list.map((m: Record<string, unknown>) => ({
      topic: m.topic as string,
      isPrivate: m.private === true,
      message: jsonMessage(m.event as string, m.payload, typeof m.id === "string" ? m.id : undefined),
    })),
  };
}

function messageErrors(m: unknown, ctx: Context): Record<string, string[]> {
  if (typeof m !== "object" || m === null) return { message: ["is invalid"] };
  const { topic, event, payload } = m as Record<string, unknown>;
  const errors: Record<string, string[]> = {};
  if (typeof topic !== "string" || topic === "") errors.topic = ["can't be blank"];
  if (typeof event !== "string" || event === "") errors.event = ["can't be blank"];
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    errors.payload = ["can't be blank"];
  } else if (new TextEncoder().encode(JSON.stringify(payload)).length > ctx.settings.maxPayloadBytes) {
    errors.payload = ["Payload size exceeds tenant limit"];
  }
  return errors;
}

function jsonMessage(event: string, payload: unknown, id?: string): UserBroadcast {
  return {
    event,
    encoding: "json",
    body: new TextEncoder().encode(JSON.stringify(payload)),
    ...(id ? { meta: { id } } : {}),
  };
}

function invalid(status: number, body: unknown): Parsed {
  return { status, response: json(status, body) };
}

async function send(ctx: Context, claims: Claims, messages: Outgoing[]) {
  const allowed = new Map<string, boolean>();
  for (const { topic, isPrivate, message } of messages) {
    if (isPrivate && !allowed.has(topic)) allowed.set(topic, await mayWrite(ctx, claims, topic));
    if (isPrivate && !allowed.get(topic)) continue;
    ctx.hub.broadcast(topicKey(topic, isPrivate), message);
  }
}

async function mayWrite(ctx: Context, claims: Claims, topic: string): Promise<boolean> {
  try {
    const policies = await authorizeWrite(
      ctx.db,
      { topic, claims },
      ["broadcast", "presence"],
      unevaluatedPolicies(),
    );
    return policies.broadcast.write === true;
  } catch (error) {
    ctx.logger.error("realtime: RlsPolicyError", { topic, ...describeError(error) });
    return false;
  }
}
