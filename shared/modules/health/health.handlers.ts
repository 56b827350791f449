import type { AppRouteHandler } from "../../app/types.ts";
import type { HealthRoute } from "./health.routes.ts";

export const API_VERSION = "1.0.0";

export const health: AppRouteHandler<HealthRoute> = async (c) => {
  const { db } = c.var.deps;
  const started = performance.now();
  let up = true;
  try {
    await db.ping();
  } catch {
    up = false;
  }
  const body = {
    status: up ? "ok" as const : "degraded" as const,
    version: API_VERSION,
    time: new Date().toISOString(),
    database: {
      status: up ? "up" as const : "down" as const,
      driver: db.driver,
      ...(up ? { latencyMs: Math.round((performance.now() - started) * 10) / 10 } : {}),
    },
  };
  return up ? c.json(body, 200) : c.json(body, 503);
};
