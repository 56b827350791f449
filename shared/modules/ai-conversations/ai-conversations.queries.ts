/** The conversations and messages as their doctor reads them (row-level security decides). */
import { iso } from "../../app/fields.ts";

export interface ConversationRow {
  id: string;
  doctor_id: string;
  model: string;
  system_prompt: string;
  summary: string | null;
  last_activity_at: string;
  is_active: boolean;
  created_at: string;
  updated_at: string;
  cursor_created_at: string;
}

export interface MessageRow {
  id: string;
  conversation_id: string;
  role: "user" | "assistant";
  content: string;
  token_count: number;
  read_at: string | null;
  created_at: string;
  updated_at: string;
  cursor_created_at: string;
}

export const CONVERSATION_COLUMNS =
  `c.id, c.doctor_id, c.model, c.system_prompt, c.summary, c.last_activity_at,
  c.is_active, c.created_at, c.updated_at, c.created_at::text as cursor_created_at`;

export const MESSAGE_COLUMNS = `m.id, m.conversation_id, m.role, m.content, m.token_count, m.read_at,
  m.created_at, m.updated_at, m.created_at::text as cursor_created_at`;

export function toConversation(row: ConversationRow) {
  return {
    id: row.id,
    model: row.model,
    systemPrompt: row.system_prompt,
    ...(row.summary ? { summary: row.summary } : {}),
    lastActivityAt: iso(row.last_activity_at),
    isActive: row.is_active,
    doctorId: row.doctor_id,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export function toMessage(row: MessageRow) {
  return {
    id: row.id,
    conversationId: row.conversation_id,
    role: row.role,
    content: row.content,
    tokenCount: row.token_count,
    ...(row.read_at ? { readAt: iso(row.read_at) } : {}),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}
