/**
 * SQL of the chat module. Runs as the caller: RLS and the JSON functions of
 * 20261123000600_chat.sql show a conversation, its messages and files to its
 * participants only; an admin reads metadata and reported messages through
 * app.chat_conversation_states() and app.chat_reports().
 */
import type { Context } from "hono";
import { notFound } from "../../app/problem.ts";
import type { AppBindings } from "../../app/types.ts";
import type { Queryable } from "../../db/database.ts";

export const BUCKET = "chat-files";
export const CONVERSATION_NOT_FOUND = "Conversación no encontrada";
export const MESSAGE_NOT_FOUND = "Mensaje no encontrado";
export const FILE_NOT_FOUND = "Archivo no encontrado";
export const CALL_NOT_FOUND = "Videollamada no encontrada";

export const objectKey = (conversationId: string, fileId: string) => `${conversationId}/${fileId}`;

// deno-lint-ignore no-explicit-any
type Json = any;

export const json = (value: unknown): Json => typeof value === "string" ? JSON.parse(value) : value;

/**
 * The request's one transaction, at the test clock's instant when the tests
 * set Deps.clock (app.chat_now() reads it); at the database's now() otherwise.
 */
export function chatTransaction<T>(c: Context<AppBindings>, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  const clock = c.var.deps.clock;
  return c.var.db.transaction(async (tx) => {
    if (clock) {
      await tx.query("select set_config('consultorio.test_now', $1, true)", [clock().toISOString()]);
    }
    return await fn(tx);
  });
}

/** The conversation as a participant sees it, or 404. */
export async function readConversation(tx: Queryable, id: string): Promise<Json> {
  const [row] = await tx.query<{ conversation: unknown }>(
    "select app.chat_conversation_json($1) as conversation",
    [id],
  );
  if (!row?.conversation) throw notFound(CONVERSATION_NOT_FOUND);
  return json(row.conversation);
}

/** A conversation's metadata for an admin, or 404. */
export async function readConversationState(tx: Queryable, id: string): Promise<Json> {
  const [row] = await tx.query<{ conversation: unknown }>(
    "select conversation from app.chat_conversation_states($1, null, null, 1)",
    [id],
  );
  if (!row) throw notFound(CONVERSATION_NOT_FOUND);
  return json(row.conversation);
}

export interface MessageRow {
  id: string;
  conversation_id: string;
  sender_id: string;
  deleted_at: string | null;
  cursor_created_at: string;
  message: unknown;
}

export const MESSAGE_SELECT = `
  select m.id, m.conversation_id, m.sender_id, m.deleted_at, m.created_at::text as cursor_created_at,
         app.chat_message_json(m) as message
    from public.chat_messages m`;

/** A message of one of the caller's conversations, or 404. */
export async function readMessage(tx: Queryable, id: string): Promise<MessageRow> {
  const [row] = await tx.query<MessageRow>(`${MESSAGE_SELECT} where m.id = $1`, [id]);
  if (!row) throw notFound(MESSAGE_NOT_FOUND);
  return row;
}

export const asMessage = (row: MessageRow): Json => json(row.message);

/** 404 unless the caller takes part in the conversation. */
export async function requireParticipant(tx: Queryable, id: string): Promise<void> {
  const [row] = await tx.query<{ ok: boolean }>("select app.takes_part_in_conversation($1) as ok", [id]);
  if (!row?.ok) throw notFound(CONVERSATION_NOT_FOUND);
}

export interface CallRow {
  id: string;
  conversation_id: string;
  status: "active" | "ended";
  room_name: string;
  started_by: string;
  started_at: string;
  ended_at: string | null;
}

export const CALL_SELECT = `
  select v.id, v.conversation_id, v.status, v.room_name, v.started_by,
         app.iso(v.started_at) as started_at, app.iso(v.ended_at) as ended_at
    from public.chat_video_calls v`;

export const toCall = (row: CallRow) => ({
  callId: row.id,
  conversationId: row.conversation_id,
  status: row.status,
  roomName: row.room_name,
  startedBy: row.started_by,
  startedAt: row.started_at,
  endedAt: row.ended_at,
});

const HEADLINE_OPTIONS = "'StartSel=<mark>, StopSel=</mark>, MaxFragments=3, MaxWords=20, MinWords=5'";

/**
 * Full-text search (Spanish) over the caller's messages and the titles and
 * descriptions of the conversations they take part in, newest first, by
 * (timestamp, id). $1 query, $2 conversation id or null, $3/$4 cursor, $5 limit.
 */
export const SEARCH_QUERY = `
  with q as (select websearch_to_tsquery('spanish', $1) as q),
  hits as (
    select m.id, m.created_at as at, jsonb_build_object(
             'type', 'message', 'conversationId', m.conversation_id, 'conversationType', c.type,
             'messageId', m.id, 'sender', app.chat_person_json(m.sender_id),
             'highlight', ts_headline('spanish', m.body, q.q, ${HEADLINE_OPTIONS}),
             'timestamp', app.iso(m.created_at)) as hit
      from q, public.chat_messages m
      join public.conversations c on c.id = m.conversation_id
     where m.search_vector @@ q.q and m.deleted_at is null
       and ($2::uuid is null or m.conversation_id = $2)
    union all
    select c.id, c.last_activity_at, jsonb_build_object(
             'type', 'conversation', 'conversationId', c.id, 'conversationType', c.type,
             'messageId', null, 'sender', null,
             'highlight', ts_headline('spanish', concat_ws(' ', c.title, c.description), q.q, ${HEADLINE_OPTIONS}),
             'timestamp', app.iso(c.last_activity_at)) as hit
      from q, public.conversation_participants p
      join public.conversations c on c.id = p.conversation_id
     where p.user_id = auth.uid() and p.left_at is null
       and to_tsvector('spanish', concat_ws(' ', c.title, c.description)) @@ q.q
       and ($2::uuid is null or c.id = $2)
  )
  select id, at::text as cursor_created_at, hit from hits
   where $3::text is null or (at, id) < ($3::text::timestamptz, $4::uuid)
   order by at desc, id desc
   limit $5`;
