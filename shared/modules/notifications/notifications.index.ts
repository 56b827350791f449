import { createRouter } from "../../app/create-router.ts";
import * as handlers from "./notifications.handlers.ts";
import * as routes from "./notifications.routes.ts";

export const notificationsRouter = createRouter()
  .openapi(routes.pushConfig, handlers.pushConfig)
  .openapi(routes.listSubscriptions, handlers.listSubscriptions)
  .openapi(routes.createSubscription, handlers.createSubscription)
  .openapi(routes.deleteSubscription, handlers.deleteSubscription);
