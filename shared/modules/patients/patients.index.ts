import { createRouter } from "../../app/create-router.ts";
import * as handlers from "./patients.handlers.ts";
import * as routes from "./patients.routes.ts";

export const patientsRouter = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.getOne, handlers.getOne)
  .openapi(routes.update, handlers.update)
  .openapi(routes.remove, handlers.remove)
  .openapi(routes.getAntecedents, handlers.getAntecedents)
  .openapi(routes.replaceAntecedents, handlers.replaceAntecedents);
