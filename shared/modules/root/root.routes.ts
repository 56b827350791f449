import { createRoute, z } from "@hono/zod-openapi";
import { ok, problems } from "../../app/openapi.ts";

export const index = createRoute({
  method: "get",
  path: "/v1",
  operationId: "getApiInfo",
  tags: ["App"],
  summary: "The API's greeting, for a signed-in client to check its token",
  responses: {
    200: ok(z.string(), "The API's name and version"),
    ...problems(),
  },
});

export type IndexRoute = typeof index;
