import { createRouter } from "../../app/create-router.ts";
import * as handlers from "./root.handlers.ts";
import * as routes from "./root.routes.ts";

export const rootRouter = createRouter().openapi(routes.index, handlers.index);
