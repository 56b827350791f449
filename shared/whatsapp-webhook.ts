/**
 * The `whatsapp-webhook` Edge Function's app: Twilio's WhatsApp webhooks.
 * Public (Twilio sends no platform token): each request's X-Twilio-Signature
 * is checked by the twilio SDK against the exact public URL Twilio called
 * (TWILIO_WEBHOOK_URL: behind Supabase's gateway the function sees another
 * URL); a forged or missing one is 403 and nothing is stored.
 *
 *   POST /whatsapp-webhook          an incoming message: stored once per
 *                                   MessageSid, answered 200 with an empty
 *                                   body at once; the reply goes out later
 *                                   through the Messages API.
 *   POST /whatsapp-webhook/status   the status callback of a message sent.
 *
 * The api function serves the same at POST /v1/twilio/webhook/whatsapp.
 */
import { z } from "zod";
import { isTwilioSignatureValid } from "./adapters/whatsapp/twilio.ts";
import { runInBackground } from "./app/background.ts";
import type { ErrorCode, FieldError } from "./app/problem.ts";
import type { Deps } from "./app/types.ts";
import { answerInbound, storeInbound } from "./modules/ai-conversations/ai-conversations.inbound.ts";
import { applyStatusCallback } from "./modules/ai-conversations/ai-conversations.privileged.ts";

const MAX_BODY_BYTES = 64 * 1024;

const TwilioSid = z.string().regex(/^[A-Z]{2}[0-9a-fA-F]{32}$/, "must be a Twilio SID");
const WhatsAppAddress = z.string().regex(/^whatsapp:\+[1-9][0-9]{6,14}$/, "must be whatsapp:+<E.164>");

const InboundSchema = z.object({
  MessageSid: TwilioSid,
  AccountSid: TwilioSid,
  From: WhatsAppAddress,
  To: WhatsAppAddress,
  Body: z.string().max(4096),
  NumMedia: z.coerce.number().int().min(0).max(10).optional(),
});

const StatusSchema = z.object({
  MessageSid: TwilioSid,
  MessageStatus: z.enum([
    "accepted",
    "scheduled",
    "queued",
    "sending",
    "sent",
    "delivered",
    "read",
    "undelivered",
    "failed",
    "canceled",
  ]),
  ErrorCode: z.string().max(10).optional(),
  ErrorMessage: z.string().max(500).optional(),
});

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

export type TwilioWebhookKind = "message" | "status";

/** What a webhook is answered: 200 with an empty body, or a refusal. */
export type WebhookOutcome =
  | { status: 200 }
  | { status: 400 | 403 | 413 | 415 | 503; code: ErrorCode; message: string; errors?: FieldError[] };

const refuse = (
  status: 400 | 403 | 413 | 415 | 503,
  code: ErrorCode,
  message: string,
  errors?: FieldError[],
): WebhookOutcome => ({ status, code, message, ...(errors ? { errors } : {}) });

/**
 * Handles one of Twilio's webhooks. `receivedUrl` is the URL as this
 * function saw it, used only when TWILIO_WEBHOOK_URL is not set.
 */
export async function handleTwilioWebhook(
  deps: Deps,
  request: Request,
  kind: TwilioWebhookKind,
  receivedUrl: string,
): Promise<WebhookOutcome> {
  const log = deps.logger.child({ function: "whatsapp-webhook", kind });
  const { authToken, url } = deps.config.twilioWebhook;
  if (!authToken) {
    log.error("webhook refused: TWILIO_AUTH_TOKEN is not set");
    return refuse(503, "SRV_002", "WhatsApp no está configurado");
  }
  if (!/^application\/x-www-form-urlencoded\b/i.test(request.headers.get("Content-Type") ?? "")) {
    return refuse(415, "REQ_002", "Twilio envía application/x-www-form-urlencoded");
  }
  const text = await request.text();
  if (new TextEncoder().encode(text).length > MAX_BODY_BYTES) {
    return refuse(413, "REQ_001", "Cuerpo de la solicitud demasiado grande");
  }
  const params = Object.fromEntries(new URLSearchParams(text));
  const signedUrl = url ? (kind === "status" ? `${url.replace(/\/+$/, "")}/status` : url) : receivedUrl;
  const signature = request.headers.get("X-Twilio-Signature") ?? "";
  if (!signature || !await isTwilioSignatureValid(authToken, signature, signedUrl, params)) {
    log.warn("webhook rejected", { reason: signature ? "bad signature" : "no signature" });
    return refuse(403, "AUTH_002", "Firma de Twilio no válida");
  }

  if (kind === "status") {
    const parsed = StatusSchema.safeParse(params);
    if (!parsed.success) return invalid(parsed.error);
    const applied = await applyStatusCallback(deps.db, {
      messageSid: parsed.data.MessageSid,
      status: parsed.data.MessageStatus,
      errorCode: parsed.data.ErrorCode,
      errorMessage: parsed.data.ErrorMessage,
    });
    log.info("status callback", { status: parsed.data.MessageStatus, applied });
    return { status: 200 };
  }

  const parsed = InboundSchema.safeParse(params);
  if (!parsed.success) return invalid(parsed.error);
  const message = {
    messageSid: parsed.data.MessageSid,
    from: parsed.data.From,
    to: parsed.data.To,
    body: parsed.data.Body.trim() || "(mensaje sin texto)",
  };
  const stored = await storeInbound(deps, message);
  log.info("whatsapp inbound", { duplicate: !stored, sender: stored?.sender.kind });
  if (stored) {
    const answering = answerInbound(deps, message, stored);
    runInBackground(answering);
  }
  return { status: 200 };
}

function invalid(error: z.ZodError): WebhookOutcome {
  return refuse(
    400,
    "VAL_001",
    "Webhook de Twilio no válido",
    error.issues.map((issue) => ({ field: issue.path.join("."), message: issue.message })),
  );
}

export function createWhatsAppWebhookApp(deps: Deps) {
  return {
    async fetch(request: Request): Promise<Response> {
      const { pathname } = new URL(request.url);
      const match = /^\/whatsapp-webhook(\/status)?\/?$/.exec(pathname);
      if (!match) return json(404, { code: "RES_001", message: "Not found" });
      if (request.method !== "POST") return json(405, { code: "METHOD_NOT_ALLOWED", message: "POST only" });
      const outcome = await handleTwilioWebhook(deps, request, match[1] ? "status" : "message", request.url);
      if (outcome.status === 200) return new Response(null, { status: 200 });
      const { status, ...body } = outcome;
      return json(status, body);
    },
  };
}
