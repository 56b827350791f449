/**
 * The `push` Edge Function's app: sends the Web Push notifications recorded
 * since its last run (shared/modules/notifications/notifications.push.ts).
 * Supabase Cron calls it every few seconds with the project's secret key;
 * `task start` runs it on a timer. Its public URL is /functions/v1/push.
 */
import type { Deps } from "./app/types.ts";
import { holdsSecretKey } from "./reminders.ts";
import { sendPendingPushes } from "./modules/notifications/notifications.push.ts";

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

export function createPushApp(deps: Deps) {
  return {
    async fetch(request: Request): Promise<Response> {
      const { pathname } = new URL(request.url);
      if (!/^\/push\/?$/.test(pathname)) return json(404, { code: "RES_001", message: "Not found" });
      if (request.method !== "POST") return json(405, { code: "METHOD_NOT_ALLOWED", message: "POST only" });
      if (!await holdsSecretKey(request, deps)) {
        return json(401, { code: "AUTH_001", message: "The project's secret key is required" });
      }
      if (!deps.config.push.vapid) return json(200, { enabled: false, sent: 0, gone: 0, failed: 0 });
      return json(200, { enabled: true, ...await sendPendingPushes(deps) });
    },
  };
}
