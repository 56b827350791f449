import { createRouter } from "../../app/create-router.ts";
import * as handlers from "./doctors.handlers.ts";
import * as routes from "./doctors.routes.ts";

export const doctorsRouter = createRouter()
  .openapi(routes.list, handlers.list)
  .openapi(routes.getAvailability, handlers.getAvailability)
  .openapi(routes.replaceWeeklyHours, handlers.replaceWeeklyHours)
  .openapi(routes.addException, handlers.addException)
  .openapi(routes.removeException, handlers.removeException)
  .openapi(routes.slots, handlers.slots);
