import { createRouter } from "../../app/create-router.ts";
import * as handlers from "./appointments.handlers.ts";
import * as routes from "./appointments.routes.ts";

export const appointmentsRouter = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.getOne, handlers.getOne)
  .openapi(routes.update, handlers.update)
  .openapi(routes.cancel, handlers.cancel)
  .openapi(routes.byPatient, handlers.byPatient);
