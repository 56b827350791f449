import type { AppRouteHandler } from "../../app/types.ts";
import type { HealthRoute } from "./health.routes.ts";

export const API_VERSION = "1.0.0";
/** LiveKit must answer a cheap RoomService call within this to count as reachable. */
const LIVEKIT_PING_TIMEOUT_MS = 2_000;

export const health: AppRouteHandler<HealthRoute> = async (c) => {
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
  const body = {
    status: up && (reachable || !video.configured) ? "ok" as const : "degraded" as const,
    version: API_VERSION,
    time: new Date().toISOString(),
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
  return up ? c.json(body, 200) : c.json(body, 503);
};
