import { createRouter } from "../../app/create-router.ts";
import * as handlers from "./clinic-histories.handlers.ts";
import * as routes from "./clinic-histories.routes.ts";

export const clinicHistoriesRouter = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.getOne, handlers.getOne)
  .openapi(routes.byPatient, handlers.byPatient);
