// The `whatsapp-webhook` Edge Function: Twilio's signed WhatsApp webhooks (public; verify_jwt = false).
import { loadConfig } from "../../shared/config.ts";
import { createDeps } from "../../shared/deps.ts";
import { createWhatsAppWebhookApp } from "../../shared/whatsapp-webhook.ts";

const app = createWhatsAppWebhookApp(await createDeps(loadConfig()));

Deno.serve(app.fetch);
