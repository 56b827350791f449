import { createRouter } from "../../app/create-router.ts";
import * as handlers from "./chat.handlers.ts";
import * as routes from "./chat.routes.ts";

export const chatRouter = createRouter()
  .openapi(routes.listConversations, handlers.listConversations)
  .openapi(routes.createConversation, handlers.createConversation)
  .openapi(routes.getConversation, handlers.getConversation)
  .openapi(routes.updateConversation, handlers.updateConversation)
  .openapi(routes.leaveConversation, handlers.leaveConversation)
  .openapi(routes.listMessages, handlers.listMessages)
  .openapi(routes.sendMessage, handlers.sendMessage)
  .openapi(routes.getMessage, handlers.getMessage)
  .openapi(routes.editMessage, handlers.editMessage)
  .openapi(routes.deleteMessage, handlers.deleteMessage)
  .openapi(routes.markRead, handlers.markRead)
  .openapi(routes.uploadFile, handlers.uploadFile)
  .openapi(routes.downloadFile, handlers.downloadFile)
  .openapi(routes.search, handlers.search)
  .openapi(routes.unreadCount, handlers.unreadCount)
  .openapi(routes.blockUser, handlers.blockUser)
  .openapi(routes.unblockUser, handlers.unblockUser)
  .openapi(routes.reportMessage, handlers.reportMessage)
  .openapi(routes.listReports, handlers.listReports)
  .openapi(routes.startCall, handlers.startCall)
  .openapi(routes.joinCall, handlers.joinCall)
  .openapi(routes.endCall, handlers.endCall);
