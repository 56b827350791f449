import { createRouter } from "../../app/create-router.ts";
import * as handlers from "./users.handlers.ts";
import * as routes from "./users.routes.ts";

export const usersRouter = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.me, handlers.me)
  .openapi(routes.getOne, handlers.getOne)
  .openapi(routes.update, handlers.update)
  .openapi(routes.remove, handlers.remove)
  .openapi(routes.endSessions, handlers.endSessions);
