import { outsideStatus } from "../../app/outside.ts";
import type { AppRouteHandler } from "../../app/types.ts";
import type { Context } from "hono";
import { requireRole } from "../../app/roles.ts";
import type { AppBindings } from "../../app/types.ts";
import type { HealthDetailsRoute, HealthRoute } from "./health.routes.ts";

export const API_VERSION = "1.0.0";
/** LiveKit must answer a cheap RoomService call within this to count as reachable. */
const LIVEKIT_PING_TIMEOUT_MS = 2_000;
/** The database must answer `select 1` within this to count as up. */
const DATABASE_PING_TIMEOUT_MS = 2_000;

/** Whether `check` succeeds within `ms`, and how long it took. */
async function timed(check: () => Promise<unknown>, ms: number): Promise<{ ok: boolean; latencyMs: number }> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    const ok = await Promise.race([check().then((r) => r !== false, () => false), late]);
    return { ok, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } finally {
    clearTimeout(timer);
  }
}

/** The public health answer (decision 11), and whether the database answered. */
async function publicHealth(c: Context<AppBindings>) {
  const { deps } = c.var;
  const { db, video } = deps;
  const [database, livekit] = await Promise.all([
    timed(() => db.ping(), DATABASE_PING_TIMEOUT_MS),
    video.configured
      ? timed(() => video.ping(LIVEKIT_PING_TIMEOUT_MS), LIVEKIT_PING_TIMEOUT_MS + 500)
      : Promise.resolve({ ok: false, latencyMs: 0 }),
  ]);
  const up = database.ok;
  const reachable = livekit.ok;
  // The others are not pinged (a call costs money or needs an object): their breakers say if they failed lately.
  const recent = outsideStatus(deps);
  const down = [
    ...(up ? [] : ["database" as const]),
    ...(video.configured && !reachable ? ["livekit" as const] : []),
    ...(["storage", "twilio", "openai"] as const).filter((s) => recent[s] === "down"),
  ];
  const now = new Date().toISOString();
  const body = {
    status: down.length === 0 ? "ok" as const : "degraded" as const,
    version: API_VERSION,
    time: now,
    timestamp: now,
    uptime: Math.round(performance.now() / 10) / 100,
    down,
    database: {
      status: up ? "up" as const : "down" as const,
      driver: db.driver,
      ...(up ? { latencyMs: database.latencyMs } : {}),
    },
    livekit: {
      configured: video.configured,
      reachable,
      ...(reachable ? { latencyMs: livekit.latencyMs } : {}),
    },
    storage: { status: recent.storage },
    twilio: { status: recent.twilio },
    openai: { status: recent.openai },
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
