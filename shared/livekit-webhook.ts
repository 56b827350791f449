/**
 * The `livekit-webhook` Edge Function's app: LiveKit's webhooks. Public (no
 * platform token): LiveKit signs each one (Authorization: a JWT with the
 * sha256 of the body, checked by the SDK's WebhookReceiver with the API
 * secret); a bad or missing signature is 401 and nothing is stored. Each
 * event id is applied once. Its public URL is /functions/v1/livekit-webhook.
 */
import { VideoWebhookError } from "./adapters/livekit/livekit.ts";
import type { Deps } from "./app/types.ts";
import { applyWebhookEvent } from "./modules/video/video.privileged.ts";

const MAX_BODY_BYTES = 256 * 1024;

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

export function createLiveKitWebhookApp(deps: Deps) {
  const log = deps.logger.child({ function: "livekit-webhook" });
  return {
    async fetch(request: Request): Promise<Response> {
      const { pathname } = new URL(request.url);
      if (!/^\/livekit-webhook\/?$/.test(pathname)) {
        return json(404, { code: "RES_001", message: "Not found" });
      }
      if (request.method !== "POST") return json(405, { code: "METHOD_NOT_ALLOWED", message: "POST only" });
      const body = await request.text();
      if (new TextEncoder().encode(body).length > MAX_BODY_BYTES) {
        return json(413, { code: "REQ_001", message: "Body too large" });
      }
      let event;
      try {
        event = await deps.video.receiveWebhook(body, request.headers.get("Authorization"));
      } catch (error) {
        if (error instanceof VideoWebhookError) {
          log.warn("webhook rejected", { reason: error.message });
          return json(401, { code: "AUTH_001", message: "Invalid webhook signature" });
        }
        log.error("webhook failed", { error: (error as Error).message });
        return json(503, { code: "SRV_002", message: "Video is not configured" });
      }
      const { duplicate } = await applyWebhookEvent(deps.db, event);
      log.info("webhook", { event: event.event, id: event.id, duplicate });
      return json(200, { received: true, duplicate });
    },
  };
}
