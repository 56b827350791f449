import { decodeCursor, paginate } from "../../app/cursor.ts";
import { envelope, pagedEnvelope } from "../../app/envelope.ts";
import { notFound } from "../../app/problem.ts";
import { requireRole } from "../../app/roles.ts";
import type { AppRouteHandler } from "../../app/types.ts";
import type { Queryable } from "../../db/database.ts";
import { estimateTokens } from "./ai-conversations.assistant.ts";
import {
  CONVERSATION_COLUMNS,
  type ConversationRow,
  MESSAGE_COLUMNS,
  type MessageRow,
  toConversation,
  toMessage,
} from "./ai-conversations.queries.ts";
import type {
  CreateMessageRoute,
  ListConversationsRoute,
  ListMessagesRoute,
  MarkReadRoute,
} from "./ai-conversations.routes.ts";

const CONVERSATION_NOT_FOUND = "Conversación no encontrada";

/** Row-level security shows a doctor their own conversation only; anything else is 404. */
async function requireConversation(tx: Queryable, id: string): Promise<void> {
  const [found] = await tx.query("select id from public.ai_conversations where id = $1", [id]);
  if (!found) throw notFound(CONVERSATION_NOT_FOUND);
}

export const listConversations: AppRouteHandler<ListConversationsRoute> = async (c) => {
  const { limit, cursor } = c.req.valid("query");
  const after = decodeCursor(cursor);
  const rows = await c.var.db.query<ConversationRow>(
    `select ${CONVERSATION_COLUMNS} from public.ai_conversations c
      where ($1::text is null or (c.created_at, c.id) > ($1::text::timestamptz, $2::uuid))
      order by c.created_at, c.id limit $3`,
    [after?.createdAt ?? null, after?.id ?? null, limit + 1],
  );
  const { page, nextCursor } = paginate(rows, limit, toConversation);
  return c.json(pagedEnvelope(page, nextCursor), 200);
};

export const listMessages: AppRouteHandler<ListMessagesRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const { limit, cursor } = c.req.valid("query");
  const after = decodeCursor(cursor);
  const { page, nextCursor } = await c.var.db.transaction(async (tx) => {
    await requireConversation(tx, id);
    const rows = await tx.query<MessageRow>(
      `select ${MESSAGE_COLUMNS} from public.ai_messages m
        where m.conversation_id = $1
          and ($2::text is null or (m.created_at, m.id) > ($2::text::timestamptz, $3::uuid))
        order by m.created_at, m.id limit $4`,
      [id, after?.createdAt ?? null, after?.id ?? null, limit + 1],
    );
    return paginate(rows, limit, toMessage);
  });
  return c.json(pagedEnvelope(page, nextCursor), 200);
};

export const markRead: AppRouteHandler<MarkReadRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const updatedCount = await c.var.db.transaction(async (tx) => {
    await requireConversation(tx, id);
    const rows = await tx.query(
      `update public.ai_messages set read_at = now()
        where conversation_id = $1 and role = 'assistant' and read_at is null returning id`,
      [id],
    );
    return rows.length;
  });
  return c.json(envelope({ updatedCount }), 200);
};

export const createMessage: AppRouteHandler<CreateMessageRoute> = async (c) => {
  requireRole(c, "doctor");
  const body = c.req.valid("json");
  const row = await c.var.db.transaction(async (tx) => {
    await requireConversation(tx, body.conversationId);
    const [inserted] = await tx.query<MessageRow>(
      // A message the doctor stores in the assistant's voice is theirs: never an unread answer.
      `insert into public.ai_messages as m (conversation_id, role, content, token_count, read_at)
       values ($1, $2, $3, $4, case when $2 = 'assistant' then now() end) returning ${MESSAGE_COLUMNS}`,
      [body.conversationId, body.role, body.content, estimateTokens(body.content)],
    );
    return inserted;
  });
  return c.json(envelope(toMessage(row), "Mensaje guardado"), 201);
};
