import type { AppRouteHandler } from "../../app/types.ts";
import type { Context } from "hono";
import { requireRole } from "../../app/roles.ts";
import type { AppBindings } from "../../app/types.ts";
import type { HealthDetailsRoute, HealthRoute } from "./health.routes.ts";

export const API_VERSION = "1.0.0";
/** LiveKit must answer a cheap RoomService call within this to count as reachable. */
const LIVEKIT_PING_TIMEOUT_MS = 2_000;

/** The public health answer (decision 11), and whether the database answered. */
async function publicHealth(c: Context<AppBindings>) {
  const { db, video } = c.var.deps;
  const started = performance.now();
  let up = true;
  try {
    await db.ping();
  } catch {
    up = false;
  }
  const dbLatency = Math.round((performance.now() - started) * 10) / 10;
  const videoStarted = performance.now();
  const reachable = video.configured && await video.ping(LIVEKIT_PING_TIMEOUT_MS);
  const now = new Date().toISOString();
  const body = {
    status: up && (reachable || !video.configured) ? "ok" as const : "degraded" as const,
    version: API_VERSION,
    time: now,
    timestamp: now,
    uptime: Math.round(performance.now() / 10) / 100,
    database: {
      status: up ? "up" as const : "down" as const,
      driver: db.driver,
      ...(up ? { latencyMs: dbLatency } : {}),
    },
    livekit: {
      configured: video.configured,
      reachable,
      ...(reachable ? { latencyMs: Math.round((performance.now() - videoStarted) * 10) / 10 } : {}),
    },
  };
  return { body, up };
}

export const health: AppRouteHandler<HealthRoute> = async (c) => {
  const { body, up } = await publicHealth(c);
  return up ? c.json(body, 200) : c.json(body, 503);
};

export const healthDetails: AppRouteHandler<HealthDetailsRoute> = async (c) => {
  requireRole(c, "admin");
  // Signed in as an admin, so the database answered the session check just now.
  const { body } = await publicHealth(c);
  const rooms = body.livekit.reachable ? await c.var.deps.video.listRooms().catch(() => []) : [];
  const details = {
    ...body,
    video: {
      activeRooms: rooms.length,
      activeConnections: rooms.reduce((sum, r) => sum + r.numParticipants, 0),
    },
  };
  return c.json(details, 200);
};
