// The `livekit-webhook` Edge Function: LiveKit's signed webhooks (public; verify_jwt = false).
import { loadConfig } from "../../shared/config.ts";
import { createDeps } from "../../shared/deps.ts";
import { createLiveKitWebhookApp } from "../../shared/livekit-webhook.ts";

const app = createLiveKitWebhookApp(await createDeps(loadConfig()));

Deno.serve(app.fetch);
