import { envelope } from "../../app/envelope.ts";
import { guardedModel } from "../../app/outside.ts";
import { ApiError, forbidden } from "../../app/problem.ts";
import { requireRole } from "../../app/roles.ts";
import type { AppRouteHandler } from "../../app/types.ts";
import {
  answerDoctor,
  AssistantBudgetExceededError,
  AssistantUnavailableError,
  estimateTokens,
} from "../ai-conversations/ai-conversations.assistant.ts";
import {
  DEFAULT_SYSTEM_PROMPT,
  endAssistantSession,
  openAssistantSession,
} from "../ai-conversations/ai-conversations.privileged.ts";
import type { MessageRoute } from "./openai.routes.ts";

export const message: AppRouteHandler<MessageRoute> = async (c) => {
  requireRole(c, "doctor");
  const { phone, message } = c.req.valid("json");
  const caller = c.var.caller;
  if (phone !== caller.phone) throw forbidden("Solo puedes escribir al asistente desde tu propio número");
  const { deps } = c.var;

  // Counted and stored first, in the request's own transaction, as the doctor: a burst waits on
  // the counter's row, and a refused message is neither counted nor stored.
  const perUser = deps.config.costLimits.assistantPerUser;
  const conversationId = await c.var.db.transaction(async (tx) => {
    await tx.query("select app.count_assistant_message($1, $2)", [perUser.max, perUser.windowSeconds]);
    const [conversation] = await tx.query<{ id: string }>(
      "select app.ensure_ai_conversation($1, $2) as id",
      [deps.assistantModel.model, DEFAULT_SYSTEM_PROMPT],
    );
    await tx.query(
      `insert into public.ai_messages (conversation_id, role, content, token_count) values ($1, 'user', $2, $3)`,
      [conversation.id, message, estimateTokens(message)],
    );
    return conversation.id;
  });

  // The run itself takes several transactions around the model's calls: a session of its own.
  const claims = await openAssistantSession(deps.db, {
    userId: caller.sub,
    phone: caller.phone,
    role: "doctor",
  });
  try {
    const { answer } = await answerDoctor(
      { db: deps.db, model: guardedModel(deps), log: c.var.log },
      claims,
      conversationId,
      message,
    );
    return c.json(envelope({ success: true as const, response: answer }), 200);
  } catch (error) {
    if (error instanceof AssistantBudgetExceededError) {
      throw new ApiError(
        "RATE_001",
        "Se alcanzó el límite diario de consultas al asistente de la clínica; tu mensaje quedó guardado",
        { headers: { "Retry-After": String(error.retryAfterSeconds) }, cause: error },
      );
    }
    if (error instanceof AssistantUnavailableError) {
      throw new ApiError("SRV_002", "El asistente no está disponible; tu mensaje quedó guardado", {
        headers: { "Retry-After": "30" },
        cause: error,
      });
    }
    throw error;
  } finally {
    await endAssistantSession(deps.db, claims);
  }
};
