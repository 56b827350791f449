import { createRouter } from "../../app/create-router.ts";
import * as handlers from "./ai-conversations.handlers.ts";
import * as routes from "./ai-conversations.routes.ts";

export const aiConversationsRouter = createRouter()
  .openapi(routes.listConversations, handlers.listConversations)
  .openapi(routes.listMessages, handlers.listMessages)
  .openapi(routes.markRead, handlers.markRead)
  .openapi(routes.createMessage, handlers.createMessage);
