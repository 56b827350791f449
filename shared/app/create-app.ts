/**
 * The app factory: every function's app is built here, so that request ids,
 * CORS, secure headers, logs, authentication, the envelope and
 * ProblemDetails are the same everywhere.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { authenticate } from "./authenticate.ts";
import { defaultValidationHook } from "./create-router.ts";
import { onError, problemResponse } from "./on-error.ts";
import { ApiError } from "./problem.ts";
import type { AppBindings, Deps } from "./types.ts";

export const MAX_BODY_BYTES = 1024 * 1024;

export function createApp(deps: Deps, basePath: string) {
  const app = new OpenAPIHono<AppBindings>({
    strict: false,
    defaultHook: defaultValidationHook,
  }).basePath(basePath);

  app.use(requestId({ limitLength: 128 }));
  app.use(async (c, next) => {
    const started = performance.now();
    c.set("deps", deps);
    c.set("log", deps.logger.child({ requestId: c.var.requestId }));
    await next();
    const route = c.req.matchedRoutes.filter((r) => r.method !== "ALL").at(-1)?.path;
    c.var.log.info("request", {
      method: c.req.method,
      route: route ?? "(unmatched)",
      status: c.res.status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
    });
  });
  app.use(secureHeaders({ crossOriginResourcePolicy: "cross-origin" }));
  // The API authenticates with bearer tokens, never cookies: no origin is
  // given credentials, so "*" cannot turn into "any origin with its cookies".
  // A list answers only its own origins (and says Vary: Origin).
  app.use(cors({
    origin: deps.config.corsOrigins,
    allowMethods: ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS"],
    allowHeaders: [
      "Authorization",
      "Content-Type",
      "apikey",
      "x-client-info",
      "X-Request-Id",
      "Idempotency-Key",
    ],
    exposeHeaders: ["X-Request-Id", "Retry-After"],
    credentials: false,
    maxAge: 600,
  }));
  app.use(bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => problemResponse(c, new ApiError("REQ_001", `El cuerpo supera ${MAX_BODY_BYTES} bytes`)),
  }));
  app.use("/v1/*", authenticate(basePath));

  app.notFound((c) => problemResponse(c, new ApiError("RES_001", "Ruta no encontrada")));
  app.onError(onError);
  return app;
}
