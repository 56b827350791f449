import { createRoute, z } from "@hono/zod-openapi";

export const HealthSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  version: z.string(),
  time: z.string().openapi({ format: "date-time" }),
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
}).openapi("Health");

export const health = createRoute({
  method: "get",
  path: "/health",
  operationId: "getHealth",
  tags: ["Health"],
  summary: "Service health, with the database's and LiveKit's state (public; LiveKit down is degraded, 200)",
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
