// The `api` Edge Function: every /v1 REST contract of Consultorio.
import { createApiApp } from "../../shared/api.ts";
import { loadConfig } from "../../shared/config.ts";
import { createDeps } from "../../shared/deps.ts";

const app = createApiApp(await createDeps(loadConfig()));

Deno.serve(app.fetch);
