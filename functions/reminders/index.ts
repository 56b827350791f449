// The `reminders` Edge Function: sends the due WhatsApp appointment reminders (Supabase Cron calls it).
import { loadConfig } from "../../shared/config.ts";
import { createDeps } from "../../shared/deps.ts";
import { createRemindersApp } from "../../shared/reminders.ts";

const app = createRemindersApp(await createDeps(loadConfig()));

Deno.serve(app.fetch);
