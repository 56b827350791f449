import { createRoute, z } from "@hono/zod-openapi";
import { problems } from "../../app/openapi.ts";

/** A service health does not call: down while its breaker is open (BREAKER_FAILURES failures in a row). */
const RecentStatusSchema = z.object({ status: z.enum(["up", "down"]) });

export const HealthSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  version: z.string(),
  time: z.string().openapi({ format: "date-time", description: "The same instant as timestamp (kept)" }),
  timestamp: z.string().openapi({ format: "date-time" }),
  uptime: z.number().openapi({ description: "Seconds since this function instance started" }),
  down: z.array(z.enum(["database", "livekit", "storage", "twilio", "openai"])).openapi({
    description: "The parts that are down now (empty when all is well)",
  }),
  database: z.object({
    status: z.enum(["up", "down"]),
    driver: z.enum(["pglite", "postgres"]),
    latencyMs: z.number().optional(),
  }),
  livekit: z.object({
    configured: z.boolean().openapi({
      description: "LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET set",
    }),
    reachable: z.boolean().openapi({ description: "A RoomService call answered within 2 s" }),
    latencyMs: z.number().optional(),
  }),
  storage: RecentStatusSchema,
  twilio: RecentStatusSchema,
  openai: RecentStatusSchema,
}).openapi("Health");

export const health = createRoute({
  method: "get",
  path: "/health",
  operationId: "getHealth",
  tags: ["Health"],
  summary:
    "Service health: which part is down (public; the database down is 503, another part down is degraded, 200)",
  security: [],
  responses: {
    200: { description: "Healthy", content: { "application/json": { schema: HealthSchema } } },
    503: {
      description: "The database does not answer",
      content: { "application/json": { schema: HealthSchema } },
    },
  },
});

export type HealthRoute = typeof health;

// Operational data (decision 11): counts of rooms and connections, for admins only.
export const HealthDetailsSchema = HealthSchema.extend({
  video: z.object({
    activeRooms: z.number().int().openapi({
      description: "LiveKit rooms open now (0 when LiveKit does not answer)",
    }),
    activeConnections: z.number().int().openapi({ description: "Participants connected across those rooms" }),
  }),
}).openapi("HealthDetails");

export const healthDetails = createRoute({
  operationId: "healthDetails",
  method: "get",
  path: "/v1/health/details",
  tags: ["Health"],
  summary: "Health with operational counts: active LiveKit rooms and connections (admin)",
  responses: {
    200: {
      description: "The public health answer plus the counts",
      content: { "application/json": { schema: HealthDetailsSchema } },
    },
    ...problems(401, 403, 429, 500),
  },
});

export type HealthDetailsRoute = typeof healthDetails;
