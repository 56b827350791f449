import { createRouter } from "../../app/create-router.ts";
import * as handlers from "./twilio.handlers.ts";
import * as routes from "./twilio.routes.ts";

export const twilioRouter = createRouter()
  .openapi(routes.send, handlers.send)
  .openapi(routes.status, handlers.status)
  .openapi(routes.webhook, handlers.webhook)
  .openapi(routes.webhookStatus, handlers.webhookStatus);
