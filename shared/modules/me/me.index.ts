import { createRouter } from "../../app/create-router.ts";
import * as handlers from "./me.handlers.ts";
import * as routes from "./me.routes.ts";

/** Registered before the users router, whose /v1/user/{id} would otherwise take /v1/user/me. */
export const meRouter = createRouter()
  .openapi(routes.updateMyContact, handlers.updateMyContact)
  .openapi(routes.requestPhoneChange, handlers.requestPhoneChange)
  .openapi(routes.confirmPhoneChange, handlers.confirmPhoneChange);
