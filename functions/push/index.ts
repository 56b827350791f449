// The `push` Edge Function: sends the recorded Web Push notifications (Supabase Cron calls it).
import { loadConfig } from "../../shared/config.ts";
import { createDeps } from "../../shared/deps.ts";
import { createPushApp } from "../../shared/push.ts";

const app = createPushApp(await createDeps(loadConfig()));

Deno.serve(app.fetch);
