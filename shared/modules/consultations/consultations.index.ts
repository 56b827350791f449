import { createRouter } from "../../app/create-router.ts";
import * as handlers from "./consultations.handlers.ts";
import * as routes from "./consultations.routes.ts";

export const consultationsRouter = createRouter()
  .openapi(routes.open, handlers.open)
  .openapi(routes.list, handlers.list)
  .openapi(routes.getOne, handlers.getOne)
  .openapi(routes.checkIn, handlers.checkIn)
  .openapi(routes.start, handlers.start)
  .openapi(routes.close, handlers.close)
  .openapi(routes.join, handlers.join)
  .openapi(routes.videoToken, handlers.videoToken)
  .openapi(routes.sendMessage, handlers.sendMessage)
  .openapi(routes.listMessages, handlers.listMessages)
  .openapi(routes.markDelivered, handlers.markDelivered)
  .openapi(routes.prepareFile, handlers.prepareFile)
  .openapi(routes.confirmFile, handlers.confirmFile)
  .openapi(routes.downloadFile, handlers.downloadFile);
