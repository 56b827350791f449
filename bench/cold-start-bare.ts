/**
 * The cold-start baseline: a bare Hono app answering GET /api/v1 with a small
 * JSON, served exactly as functions/api/index.ts serves the api (Deno.serve
 * with its default address; the bench points it at a free port with
 * DENO_SERVE_ADDRESS). No configuration, database or SDK.
 */
import { Hono } from "hono";

const app = new Hono().basePath("/api");
app.get("/v1", (c) => c.json({ success: true, data: null, message: "bare", timestamp: new Date() }));

Deno.serve(app.fetch);
