/**
 * The local stand-in for Supabase Realtime, served under /realtime/v1:
 *
 * - GET /realtime/v1/websocket?apikey=...&vsn=2.0.0: the WebSocket of
 *   @supabase/realtime-js (Phoenix channels), for broadcast and presence on
 *   public and private channels; database broadcasts (`realtime.send`) are
 *   delivered once their transaction commits.
 * - POST /realtime/v1/api/broadcast[/:topic/events/:event]: the HTTP
 *   broadcast API.
 *
 * It is a development tool: one process, state in memory, the subset of
 * Realtime that Consultorio uses (no Postgres Changes, no replay, no rate
 * limits other than the ones in RealtimeOptions).
 */
import { createLogger, describeError } from "../../../shared/app/logger.ts";
import { Connection } from "./connection.ts";
import { type Context, type RealtimeOptions, resolveSettings } from "./context.ts";
import { type DatabaseBroadcasts, listenForDatabaseBroadcasts } from "./database-broadcasts.ts";
import { maintainMessagePartitions, startPartitionJanitor } from "./partitions.ts";
import { Hub, topicKey } from "./hub.ts";
import { PresenceTracker } from "./presence.ts";
import { parseVsn } from "./protocol.ts";
import { handleBroadcastApi } from "./rest.ts";
import { connectRefusal, verifyToken } from "./tokens.ts";

export type { RealtimeOptions } from "./context.ts";

export interface RealtimeServer {
  /** Answers a request whose path starts with /realtime/v1 (pass the original Request: it may be upgraded). */
  handle(request: Request): Response | Promise<Response>;
  /** Settles once database broadcasts are listened for (sockets are accepted only then). */
  readonly ready: Promise<void>;
  /** Closes every socket (1001) and stops listening to the database. */
  close(): Promise<void>;
}

const PREFIX = "/realtime/v1";

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

export function createRealtimeServer(options: RealtimeOptions): RealtimeServer {
  const ctx: Context = {
    db: options.db,
    tenantKeys: options.tenantKeys,
    settings: resolveSettings(options),
    hub: new Hub(),
    presence: new PresenceTracker(),
    logger: options.logger ?? createLogger("warn"),
  };
  const connections = new Set<Connection>();
  let closing = false;

  // As Realtime on connecting to a project: today's partition exists before anything is accepted.
  const listening: Promise<DatabaseBroadcasts> = maintainMessagePartitions(ctx.db).then(() =>
    listenForDatabaseBroadcasts(
      ctx.db,
      ({ topic, isPrivate, message }) => ctx.hub.broadcast(topicKey(topic, isPrivate), message),
      ctx.logger,
    )
  );
  const stopJanitor = startPartitionJanitor(ctx.db, ctx.logger);
  const ready = listening.then(() => {});
  ready.catch((error) =>
    ctx.logger.error("realtime: cannot listen for database broadcasts", describeError(error))
  );

  async function openSocket(request: Request, url: URL): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return json(400, { error: "Expected a WebSocket upgrade" });
    }
    const vsn = parseVsn(url.searchParams.get("vsn"));
    if (!vsn) return json(400, { error: `Unsupported protocol version: ${url.searchParams.get("vsn")}` });
    let token = request.headers.get("x-api-key") ?? url.searchParams.get("apikey");
    if (!token) return json(401, { error: "API key is missing" });
    // The platform's gateway turns a publishable or secret key into a JWT of its role.
    if (token.startsWith("sb_")) {
      const exchanged = await options.exchangeApiKey?.(token);
      if (!exchanged) return json(401, { message: "Invalid API key" });
      token = exchanged;
    }
    const verified = await verifyToken(token, ctx.tenantKeys);
    if (!verified.ok) {
      const { status, error } = connectRefusal(verified.failure);
      return json(status, { error });
    }
    try {
      await ready;
    } catch {
      return json(503, { error: "Realtime was unable to connect to the project database" });
    }
    if (closing) return json(503, { error: "Realtime is restarting, please standby" });
    const { socket, response } = Deno.upgradeWebSocket(request);
    connections.add(new Connection(ctx, socket, vsn, token, (c) => connections.delete(c)));
    return response;
  }

  return {
    ready,
    handle(request) {
      const url = new URL(request.url);
      const path = url.pathname.startsWith(PREFIX) ? url.pathname.slice(PREFIX.length) : url.pathname;
      if (path === "/websocket" || path === "/websocket/") return openSocket(request, url);
      if (path === "/api/broadcast" || path.startsWith("/api/broadcast/")) {
        return handleBroadcastApi(ctx, request, path);
      }
      return json(404, { error: "Not found" });
    },
    async close() {
      closing = true;
      stopJanitor();
      for (const connection of [...connections]) connection.close();
      const broadcasts = await listening.catch(() => undefined);
      await broadcasts?.stop();
    },
  };
}
