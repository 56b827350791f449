import { createRouter } from "../../app/create-router.ts";
import * as handlers from "./openai.handlers.ts";
import * as routes from "./openai.routes.ts";

export const openaiRouter = createRouter()
  .openapi(routes.message, handlers.message);
