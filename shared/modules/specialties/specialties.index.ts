import { createRouter } from "../../app/create-router.ts";
import * as handlers from "./specialties.handlers.ts";
import * as routes from "./specialties.routes.ts";

export const specialtiesRouter = createRouter()
  .openapi(routes.list, handlers.list)
  .openapi(routes.create, handlers.create);
