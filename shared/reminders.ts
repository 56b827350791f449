/**
 * The `reminders` Edge Function's app: sends the WhatsApp reminders that are
 * due (24 h and 1 h before each pending or confirmed appointment), each at
 * most once: a reminder is claimed in the database before it is sent, so a
 * rerun, or two runs at once, never send it twice; one that cannot be sent
 * is released for the next run. Supabase Cron (pg_cron + pg_net) calls it
 * every few minutes with the project's secret key; `task start` runs it on a
 * timer. Its public URL is /functions/v1/reminders.
 */
import { verifiedRole } from "./auth/jwt.ts";
import { describeError } from "./app/logger.ts";
import type { Deps } from "./app/types.ts";
import { sendWithRetry } from "./modules/ai-conversations/ai-conversations.inbound.ts";
import {
  claimDueReminders,
  type DueReminder,
  recordOutbound,
  recordReminderSent,
  releaseReminder,
} from "./modules/ai-conversations/ai-conversations.privileged.ts";

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

export function reminderText(reminder: DueReminder): string {
  const when = reminder.kind === "1h" ? "en una hora" : "mañana";
  return `Hola ${reminder.patientName}: te recordamos tu turno ${when} con ${reminder.doctorName}, el ` +
    `${reminder.startsAt} (hora de la clínica). Responde 1 para confirmar tu asistencia o 2 para cancelarlo.`;
}

/**
 * Whether the caller holds the project's secret key, in `apikey` (where
 * Supabase wants publishable and secret keys sent, pg_net included) or as
 * the bearer token (supabase-js sends it in both), or a legacy service_role
 * key signed with the project's keys. The platform's `verify_jwt` cannot
 * decide this: it does not understand secret keys, and breaks with signing
 * keys, so the function is deployed without it and checks here.
 */
export async function holdsSecretKey(request: Request, deps: Deps): Promise<boolean> {
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.get("Authorization") ?? "")?.[1];
  const apikey = request.headers.get("apikey") ?? undefined;
  const { secretKeys } = deps.config.supabase;
  for (const given of [apikey, bearer]) {
    if (given?.startsWith("sb_")) {
      if (secretKeys.some((key) => sameKey(key, given))) return true;
    } else if (given && await verifiedRole(given, deps.config.jwt) === "service_role") {
      return true;
    }
  }
  return false;
}

/** Compares in time independent of where the two differ. */
function sameKey(expected: string, given: string): boolean {
  const a = new TextEncoder().encode(expected);
  const b = new TextEncoder().encode(given);
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ (b[i] ?? 0);
  return diff === 0;
}

export async function sendDueReminders(deps: Deps): Promise<{ sent: number; failed: number }> {
  const log = deps.logger.child({ function: "reminders" });
  const due = await claimDueReminders(deps.db);
  let sent = 0;
  let failed = 0;
  for (const reminder of due) {
    try {
      const body = reminderText(reminder);
      const message = await sendWithRetry(deps, log, { to: reminder.patientPhone, body });
      const id = await recordOutbound(deps.db, {
        messageSid: message.messageSid,
        purpose: "reminder",
        userId: reminder.patientId,
        from: message.from ?? "whatsapp:unknown",
        to: `whatsapp:${reminder.patientPhone}`,
        body,
        status: message.status,
      });
      await recordReminderSent(deps.db, reminder, id);
      sent++;
    } catch (error) {
      failed++;
      log.error("reminder not sent", {
        appointmentId: reminder.appointmentId,
        kind: reminder.kind,
        ...describeError(error),
      });
      await releaseReminder(deps.db, reminder).catch(() => {});
    }
  }
  log.info("reminders", { sent, failed });
  return { sent, failed };
}

export function createRemindersApp(deps: Deps) {
  return {
    async fetch(request: Request): Promise<Response> {
      const { pathname } = new URL(request.url);
      if (!/^\/reminders\/?$/.test(pathname)) return json(404, { code: "RES_001", message: "Not found" });
      if (request.method !== "POST") return json(405, { code: "METHOD_NOT_ALLOWED", message: "POST only" });
      if (!await holdsSecretKey(request, deps)) {
        return json(401, { code: "AUTH_001", message: "The project's secret key is required" });
      }
      return json(200, await sendDueReminders(deps));
    },
  };
}
