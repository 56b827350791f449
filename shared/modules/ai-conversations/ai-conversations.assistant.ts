/**
 * The WhatsApp assistant for doctors: answers one message of a doctor in
 * their conversation. Every read and write runs as the doctor (their claims,
 * a session of their own), so row-level security bounds what the model can
 * learn through its tools. The model sees the system prompt, the rolling
 * summary and the messages after it, so the context stays bounded.
 */
import type { ChatMessage, ChatModel } from "../../adapters/openai/openai.ts";
import type { Logger } from "../../app/logger.ts";
import { isPgError } from "../../app/pg-errors.ts";
import type { Claims, Database } from "../../db/database.ts";
import { ModelBudgetExceededError } from "../openai/openai.privileged.ts";
import {
  applyPendingAction,
  type PendingAction,
  PendingActionSchema,
  runTool,
  TOOLS,
} from "./ai-conversations.tools.ts";

export const APOLOGY =
  "Perdón, no pude responder ahora. Tu mensaje quedó guardado: vuelve a escribirme en unos minutos.";
export const UNKNOWN_SENDER_REPLY =
  "Hola. Este número de WhatsApp es de uso exclusivo de los profesionales de la " +
  "clínica. Para pedir o cambiar un turno, comunícate con la recepción. ¡Gracias!";
export const RATE_LIMITED_REPLY =
  "Recibimos demasiados mensajes desde este número en poco tiempo. Los próximos no se responderán " +
  "durante unos minutos; vuelve a escribir más tarde.";
export const PATIENT_REPLY =
  "Hola. Por este número enviamos los recordatorios de tus turnos: responde 1 para " +
  "confirmar tu asistencia o 2 para cancelar el turno.";

/** WhatsApp's limit for one message body. */
export const MAX_WHATSAPP_BODY = 1600;
/** Messages after the summary that the model sees at most; more are folded into the summary. */
export const CONTEXT_MESSAGES = 24;
/** Messages kept verbatim when the rest is folded into the summary. */
const KEEP_AFTER_SUMMARY = 8;
const MAX_TOOL_ROUNDS = 4;

const SUMMARY_PROMPT =
  "Resume la conversación anterior entre un médico y el asistente de la clínica en menos de " +
  "120 palabras, conservando los datos que el médico podría volver a pedir. Responde solo con el resumen.";

/** The model's failure, after its own retries: the doctor gets an apology. */
export class AssistantUnavailableError extends Error {
  override name = "AssistantUnavailableError";
}

/** The clinic's daily budget of model calls is spent: nothing was sent to the model. */
export class AssistantBudgetExceededError extends AssistantUnavailableError {
  override name = "AssistantBudgetExceededError";
  constructor(readonly retryAfterSeconds: number, options?: ErrorOptions) {
    super("The clinic's daily budget of model calls is spent", options);
  }
}

export interface AssistantContext {
  db: Database;
  model: ChatModel;
  log: Logger;
}

/** About 4 characters a token: what is stored for a doctor's text (the model counts its own answers). */
export const estimateTokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));

const EXPLICIT_YES = /^\s*(s[ií]|yes|confirmo|s[ií],?\s*confirmo|s[ií],?\s*hazlo)\s*[.!]*\s*$/i;

interface ConversationRow {
  systemPrompt: string;
  summary: string | null;
  summarizedUntil: string | null;
  pendingAction: unknown;
}

interface StoredMessage {
  role: "user" | "assistant";
  content: string;
  createdAt: string;
}

export interface AssistantAnswer {
  answer: string;
  tokenCount: number;
}

/**
 * Answers the doctor's latest message (already stored in the conversation)
 * and stores the answer. Throws AssistantUnavailableError if the model
 * cannot be reached after its retries.
 */
export async function answerDoctor(
  ctx: AssistantContext,
  claims: Claims,
  conversationId: string,
  text: string,
): Promise<AssistantAnswer> {
  const { conversation, history } = await ctx.db.asCaller(claims, async (tx) => {
    const [conversation] = await tx.query<ConversationRow>(
      `update public.ai_conversations c set pending_action = null
         from (select id, pending_action from public.ai_conversations where id = $1 for update) prior
        where c.id = prior.id
        returning c.system_prompt as "systemPrompt", c.summary, c.summarized_until::text as "summarizedUntil",
                  prior.pending_action as "pendingAction"`,
      [conversationId],
    );
    if (!conversation) throw new Error("The assistant's conversation is not visible to its doctor");
    const history = await tx.query<StoredMessage>(
      `select role, content, created_at::text as "createdAt" from (
         select role, content, created_at, id from public.ai_messages
          where conversation_id = $1 and ($2::text::timestamptz is null or created_at > $2::text::timestamptz)
          order by created_at desc, id desc limit $3
       ) recent order by created_at, id`,
      [conversationId, conversation.summarizedUntil, CONTEXT_MESSAGES],
    );
    return { conversation, history };
  });

  const pending = PendingActionSchema.safeParse(conversation.pendingAction);
  if (pending.success && EXPLICIT_YES.test(text)) {
    const answer = await carryOut(ctx, claims, pending.data);
    await storeAnswer(ctx, claims, conversationId, answer, 0);
    return { answer, tokenCount: 0 };
  }

  const messages: ChatMessage[] = [
    { role: "system", content: systemMessage(conversation) },
    ...history.map((m): ChatMessage => ({ role: m.role, content: m.content })),
  ];
  let tokenCount = 0;
  let answer: string | undefined;
  for (let round = 0; round < MAX_TOOL_ROUNDS && answer === undefined; round++) {
    const completion = await complete(ctx, messages, round < MAX_TOOL_ROUNDS - 1);
    tokenCount += completion.completionTokens;
    if (completion.toolCalls.length === 0) {
      answer = completion.content?.trim() || "No tengo una respuesta para eso.";
      break;
    }
    messages.push({
      role: "assistant",
      content: completion.content,
      tool_calls: completion.toolCalls.map((call) => ({
        id: call.id,
        type: "function" as const,
        function: { name: call.name, arguments: call.arguments },
      })),
    });
    for (const call of completion.toolCalls) {
      const result = await runTool(ctx.db, claims, conversationId, call.name, call.arguments);
      ctx.log.info("assistant tool", { tool: call.name });
      messages.push({ role: "tool", tool_call_id: call.id, content: JSON.stringify(result) });
    }
  }
  answer = (answer ?? "No pude completar la consulta.").slice(0, MAX_WHATSAPP_BODY);
  await storeAnswer(ctx, claims, conversationId, answer, tokenCount);
  await foldIntoSummary(ctx, claims, conversationId).catch((error) =>
    ctx.log.warn("assistant summary failed", { error: (error as Error).name })
  );
  return { answer, tokenCount };
}

function systemMessage(conversation: ConversationRow): string {
  const parts = [conversation.systemPrompt, `Fecha y hora actual (UTC): ${new Date().toISOString()}.`];
  if (conversation.summary) parts.push(`Resumen de la conversación hasta ahora: ${conversation.summary}`);
  return parts.join("\n\n");
}

async function complete(ctx: AssistantContext, messages: ChatMessage[], withTools: boolean) {
  try {
    return await ctx.model.complete(messages, withTools ? TOOLS : undefined);
  } catch (error) {
    if (error instanceof ModelBudgetExceededError) {
      throw new AssistantBudgetExceededError(error.retryAfterSeconds, { cause: error });
    }
    throw new AssistantUnavailableError("The model did not answer", { cause: error });
  }
}

async function carryOut(ctx: AssistantContext, claims: Claims, pending: PendingAction): Promise<string> {
  const done = pending.action === "cancel" ? "cancelado" : "confirmado";
  try {
    const changed = await ctx.db.asCaller(claims, (tx) => applyPendingAction(tx, pending));
    return changed ? `Listo: el turno quedó ${done}.` : "No encontré ese turno en tu agenda.";
  } catch (error) {
    if (isPgError(error) && error.code === "P0001") {
      return `No se pudo: ${error.detail ?? "el turno ya no admite ese cambio"}.`;
    }
    throw error;
  }
}

async function storeAnswer(
  ctx: AssistantContext,
  claims: Claims,
  conversationId: string,
  answer: string,
  tokenCount: number,
): Promise<void> {
  await ctx.db.asCaller(claims, (tx) =>
    tx.query(
      `insert into public.ai_messages (conversation_id, role, content, token_count)
       values ($1, 'assistant', $2, $3)`,
      [conversationId, answer, tokenCount],
    ));
}

/**
 * Folds all but the latest messages into the summary once more than
 * CONTEXT_MESSAGES follow it, so that the next prompt stays bounded.
 */
async function foldIntoSummary(ctx: AssistantContext, claims: Claims, conversationId: string): Promise<void> {
  const { summary, older } = await ctx.db.asCaller(claims, async (tx) => {
    const [conversation] = await tx.query<{ summary: string | null; summarizedUntil: string | null }>(
      `select summary, summarized_until::text as "summarizedUntil" from public.ai_conversations where id = $1`,
      [conversationId],
    );
    const after = await tx.query<StoredMessage>(
      `select role, content, created_at::text as "createdAt" from public.ai_messages
        where conversation_id = $1 and ($2::text::timestamptz is null or created_at > $2::text::timestamptz)
        order by created_at, id`,
      [conversationId, conversation.summarizedUntil],
    );
    return {
      summary: conversation.summary,
      older: after.length > CONTEXT_MESSAGES ? after.slice(0, after.length - KEEP_AFTER_SUMMARY) : [],
    };
  });
  if (older.length === 0) return;
  const transcript = older.map((m) => `${m.role === "user" ? "Médico" : "Asistente"}: ${m.content}`).join(
    "\n",
  );
  const completion = await ctx.model.complete([
    { role: "system", content: SUMMARY_PROMPT },
    { role: "user", content: `${summary ? `Resumen previo: ${summary}\n\n` : ""}${transcript}` },
  ]);
  const newSummary = completion.content?.trim();
  if (!newSummary) return;
  await ctx.db.asCaller(claims, (tx) =>
    tx.query(
      `update public.ai_conversations set summary = $2, summarized_until = $3::text::timestamptz where id = $1`,
      [conversationId, newSummary.slice(0, 4000), older[older.length - 1].createdAt],
    ));
}
