/**
 * Deny by default: every route under /v1 needs a valid access token, except
 * the few that the contracts make public. The token's session is checked by
 * the database at the start of the request's transaction; a request that
 * never opened one has it checked here, before its answer leaves.
 */
import { createMiddleware } from "hono/factory";
import { verifyAccessToken } from "../auth/jwt.ts";
import { problemResponse, toApiError } from "./on-error.ts";
import { unauthenticated } from "./problem.ts";
import { RequestDatabase } from "./request-database.ts";
import type { AppBindings } from "./types.ts";

/** `METHOD path` (relative to /v1's parent) of the routes anyone may call. */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set([
  "POST /v1/auth/login",
  "POST /v1/auth/forgot-password",
  "POST /v1/auth/reset-password",
  // Twilio's webhooks: signed with X-Twilio-Signature, which the handler checks.
  "POST /v1/twilio/webhook/whatsapp",
  "POST /v1/twilio/webhook/whatsapp/status",
  // FHIR's CapabilityStatement: clients read it before they sign in.
  "GET /v1/fhir/metadata",
]);

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

export function authenticate(basePath: string) {
  return createMiddleware<AppBindings>(async (c, next) => {
    const path = c.req.path.slice(basePath.length).replace(/\/+$/, "") || "/";
    if (c.req.method === "OPTIONS" || PUBLIC_ROUTES.has(`${c.req.method} ${path}`)) {
      return await next();
    }

    const token = bearerToken(c.req.header("Authorization"));
    const claims = token && await verifyAccessToken(token, c.var.deps.config.jwt);
    if (!claims) throw unauthenticated();

    const db = new RequestDatabase(c.var.deps.db, claims);
    c.set("caller", claims);
    c.set("db", db);
    c.set("log", c.var.log.child({ userId: claims.sub }));

    await next();

    if (!db.used) {
      try {
        await db.verifySession();
      } catch (error) {
        c.res = undefined;
        c.res = problemResponse(c, toApiError(error));
      }
    }
  });
}
