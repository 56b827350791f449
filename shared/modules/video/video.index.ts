import { createRouter } from "../../app/create-router.ts";
import * as handlers from "./video.handlers.ts";
import * as routes from "./video.routes.ts";

export const videoRouter = createRouter()
  .openapi(routes.createRoom, handlers.createRoom)
  .openapi(routes.grantObserver, handlers.grantObserver)
  .openapi(routes.revokeObserver, handlers.revokeObserver)
  .openapi(routes.activeRooms, handlers.activeRooms)
  .openapi(routes.roomStats, handlers.roomStats)
  .openapi(routes.removeParticipant, handlers.removeParticipant)
  .openapi(routes.recordingConsent, handlers.recordingConsent)
  .openapi(routes.recordingStart, handlers.recordingStart)
  .openapi(routes.recordingStop, handlers.recordingStop);
