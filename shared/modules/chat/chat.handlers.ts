import type { Context } from "hono";
import { decodeCursor, paginate } from "../../app/cursor.ts";
import { envelope, pagedEnvelope } from "../../app/envelope.ts";
import {
  CONTENT_SAMPLE_BYTES,
  contentIsOfType,
  isSampledVersion,
  servedInline,
} from "../../app/file-content.ts";
import { outside } from "../../app/outside.ts";
import { ApiError, notFound } from "../../app/problem.ts";
import { requireRole } from "../../app/roles.ts";
import type { AppBindings, AppRouteHandler } from "../../app/types.ts";
import type { Queryable } from "../../db/database.ts";
import { VIDEO_TOKEN_TTL_SECONDS } from "../video/video.handlers.ts";
import {
  asMessage,
  BUCKET,
  CALL_NOT_FOUND,
  CALL_SELECT,
  type CallRow,
  chatTransaction,
  CONVERSATION_NOT_FOUND,
  FILE_NOT_FOUND,
  json,
  MESSAGE_NOT_FOUND,
  MESSAGE_SELECT,
  type MessageRow,
  objectKey,
  readConversation,
  readConversationState,
  readMessage,
  requireParticipant,
  SEARCH_QUERY,
  toCall,
} from "./chat.queries.ts";
import type {
  BlockUserRoute,
  CreateConversationRoute,
  DeleteMessageRoute,
  DownloadFileRoute,
  EditMessageRoute,
  EndCallRoute,
  GetConversationRoute,
  GetMessageRoute,
  JoinCallRoute,
  LeaveConversationRoute,
  ListConversationsRoute,
  ListMessagesRoute,
  ListReportsRoute,
  MarkReadRoute,
  ReportMessageRoute,
  SearchRoute,
  SendMessageRoute,
  StartCallRoute,
  UnblockUserRoute,
  UnreadCountRoute,
  UpdateConversationRoute,
  UploadFileRoute,
} from "./chat.routes.ts";

const DOWNLOAD_URL_TTL_SECONDS = 5 * 60;

const isAdmin = (c: Context<AppBindings>) => c.var.caller.user_role === "admin";

/** An attachment's bytes are not of its declared type: 400 FILE_003, its object removed. */
class ContentMismatch extends ApiError {
  constructor(readonly fileId: string, index: number) {
    super("FILE_003", "El contenido del archivo no corresponde al tipo declarado", {
      errors: [{
        field: `attachments.${index}`,
        message: "el contenido no es del tipo declarado (mimeType)",
      }],
    });
  }
}

// ---------------------------------------------------------------------------
// Conversations
// ---------------------------------------------------------------------------

export const listConversations: AppRouteHandler<ListConversationsRoute> = async (c) => {
  const { limit, cursor, type, unread, archived } = c.req.valid("query");
  const before = decodeCursor(cursor);
  const rows = await chatTransaction(
    c,
    (tx) =>
      isAdmin(c)
        ? tx.query<{ id: string; cursor_created_at: string; conversation: unknown }>(
          `select id, cursor_created_at, conversation
           from app.chat_conversation_states(null, $1::text::timestamptz, $2::uuid, $3::integer)
          where $4::text is null or conversation ->> 'type' = $4`,
          [before?.createdAt ?? null, before?.id ?? null, limit + 1, type ?? null],
        )
        // The caller's pinned conversations first, then the rest, each by latest activity.
        : tx.query<{ id: string; cursor_created_at: string; cursor_rank: number; conversation: unknown }>(
          `select c.id, c.last_activity_at::text as cursor_created_at, p.pinned::int as cursor_rank,
                  app.chat_conversation_json(c.id) as conversation
           from public.conversations c
           join public.conversation_participants p
             on p.conversation_id = c.id and p.user_id = auth.uid() and p.left_at is null
          where ($1::text is null
                 or (p.pinned::int, c.last_activity_at, c.id) < ($7::int, $1::text::timestamptz, $2::uuid))
            and ($4::text is null or c.type = $4::public.conversation_type)
            and p.archived = $5
            and ($6::boolean is null or (app.chat_unread_count(c.id) > 0) = $6)
          order by p.pinned desc, c.last_activity_at desc, c.id desc
          limit $3`,
          [
            before?.createdAt ?? null,
            before?.id ?? null,
            limit + 1,
            type ?? null,
            archived ?? false,
            unread ?? null,
            before?.rank ?? 0,
          ],
        ),
  );
  const { page, nextCursor } = paginate(rows, limit, (row) => json(row.conversation));
  return c.json(pagedEnvelope(page, nextCursor), 200);
};

export const createConversation: AppRouteHandler<CreateConversationRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const body = c.req.valid("json");
  const { conversation, created } = await chatTransaction(c, async (tx) => {
    const [row] = await tx.query<{ id: string; created: boolean }>(
      "select id, created from app.create_chat_conversation($1::public.conversation_type, $2::uuid[], $3, $4, $5)",
      [
        body.type,
        body.participants,
        body.title ?? null,
        body.description ?? null,
        body.consultationId ?? null,
      ],
    );
    return { conversation: await readConversation(tx, row.id), created: row.created };
  });
  return created
    ? c.json(envelope(conversation, "Conversación creada"), 201)
    : c.json(envelope(conversation), 200);
};

export const getConversation: AppRouteHandler<GetConversationRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const conversation = await chatTransaction(
    c,
    (tx) => isAdmin(c) ? readConversationState(tx, id) : readConversation(tx, id),
  );
  return c.json(envelope(conversation), 200);
};

export const updateConversation: AppRouteHandler<UpdateConversationRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  const conversation = await chatTransaction(c, async (tx) => {
    const updated = await tx.query(
      `update public.conversation_participants
          set muted = coalesce($2, muted), archived = coalesce($3, archived), pinned = coalesce($4, pinned)
        where conversation_id = $1 and user_id = auth.uid()
        returning conversation_id`,
      [id, body.muted ?? null, body.archived ?? null, body.pinned ?? null],
    );
    if (updated.length === 0) throw notFound(CONVERSATION_NOT_FOUND);
    return await readConversation(tx, id);
  });
  return c.json(envelope(conversation, "Conversación actualizada"), 200);
};

export const leaveConversation: AppRouteHandler<LeaveConversationRoute> = async (c) => {
  const { id } = c.req.valid("param");
  await chatTransaction(c, async (tx) => {
    const left = await tx.query(
      `update public.conversation_participants set left_at = now()
        where conversation_id = $1 and user_id = auth.uid() returning conversation_id`,
      [id],
    );
    if (left.length === 0) throw notFound(CONVERSATION_NOT_FOUND);
  });
  return c.body(null, 204);
};

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

export const listMessages: AppRouteHandler<ListMessagesRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const { limit, cursor } = c.req.valid("query");
  const before = decodeCursor(cursor);
  const result = await chatTransaction(c, async (tx) => {
    await requireParticipant(tx, id);
    const rows = await tx.query<MessageRow>(
      `${MESSAGE_SELECT}
        where m.conversation_id = $1
          and ($2::text is null or (m.created_at, m.id) < ($2::text::timestamptz, $3::uuid))
        order by m.created_at desc, m.id desc
        limit $4`,
      [id, before?.createdAt ?? null, before?.id ?? null, limit + 1],
    );
    return paginate(rows, limit, asMessage);
  });
  return c.json(envelope({ items: result.page, pageInfo: { nextCursor: result.nextCursor } }), 200);
};

export const sendMessage: AppRouteHandler<SendMessageRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  const { content, clientMsgId, replyToId, attachments = [] } = c.req.valid("json");
  // Asked before the transaction (Storage is another service); used only
  // once the transaction has shown the files are the caller's, in this conversation.
  const uploaded = await outside(
    c,
    "storage",
    "object info",
    () =>
      Promise.all(attachments.map(async (fileId) => {
        const key = objectKey(id, fileId);
        const [info, sample] = await Promise.all([
          c.var.deps.storage.objectInfo(BUCKET, key),
          c.var.deps.storage.readStart(BUCKET, key, CONTENT_SAMPLE_BYTES),
        ]);
        return info && sample ? { ...info, sample } : undefined;
      })),
  );
  let result;
  try {
    result = await chatTransaction(c, async (tx) => {
      await requireParticipant(tx, id);
      const inserted = await tx.query<{ id: string }>(
        `insert into public.chat_messages (conversation_id, sender_id, message_type, body, reply_to_id, client_msg_id)
         values ($1, auth.uid(), $2::public.chat_message_type, $3, $4, $5)
         on conflict (conversation_id, sender_id, client_msg_id) do nothing
         returning id`,
        [id, attachments.length ? "file" : "text", content ?? null, replyToId ?? null, clientMsgId ?? null],
      );
      if (inserted.length === 0) {
        const [original] = await tx.query<MessageRow>(
          `${MESSAGE_SELECT} where m.conversation_id = $1 and m.sender_id = auth.uid() and m.client_msg_id = $2`,
          [id, clientMsgId],
        );
        return { message: asMessage(original), created: false };
      }
      const messageId = inserted[0].id;
      for (const [i, fileId] of attachments.entries()) {
        const [file] = await tx.query<
          { size_bytes: string | number; uploaded_by: string; status: string; mime_type: string }
        >(
          `select f.size_bytes, f.uploaded_by, f.status, f.mime_type from public.chat_files f
            where f.id = $1 and f.conversation_id = $2
              for update`,
          [fileId, id],
        );
        if (!file || file.uploaded_by !== c.var.caller.sub || file.status !== "pending") {
          throw new ApiError(
            "VAL_001",
            "El archivo no es un archivo suyo pendiente de compartir en esta conversación",
            {
              errors: [{ field: `attachments.${i}`, message: "archivo no válido" }],
            },
          );
        }
        const object = uploaded[i];
        if (object && !await isSampledVersion(tx, BUCKET, objectKey(id, fileId), object.version)) {
          throw new ApiError("FILE_002", "El archivo cambió mientras se enviaba: vuelve a enviarlo", {
            errors: [{ field: `attachments.${i}`, message: "cambió durante el envío" }],
          });
        }
        if (!object || object.size !== Number(file.size_bytes)) {
          throw new ApiError(
            "FILE_002",
            object ? "El archivo subido no tiene el tamaño declarado" : "El archivo no fue subido",
            {
              errors: [{
                field: `attachments.${i}`,
                message: object ? "tamaño distinto" : "no fue subido",
              }],
            },
          );
        }
        if (!await contentIsOfType(file.mime_type, object.sample, object.sample.length >= object.size)) {
          throw new ContentMismatch(fileId, i);
        }
        await tx.query("update public.chat_files set status = 'shared', message_id = $2 where id = $1", [
          fileId,
          messageId,
        ]);
      }
      return { message: asMessage(await readMessage(tx, messageId)), created: true };
    });
  } catch (error) {
    // Thrown only for the sender's own pending file: its object goes and the message with it
    // (the transaction rolled back); the file stays pending for the right bytes.
    if (error instanceof ContentMismatch) {
      const key = objectKey(id, error.fileId);
      await outside(
        c,
        "storage",
        "removing a mismatched upload",
        () => c.var.deps.storage.remove(BUCKET, [key]),
      );
    }
    throw error;
  }
  const { message, created } = result;
  const ack = { ok: true as const, clientMsgId: clientMsgId ?? null, message };
  return created ? c.json(envelope(ack, "Mensaje enviado"), 201) : c.json(envelope(ack), 200);
};

export const getMessage: AppRouteHandler<GetMessageRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const row = await chatTransaction(c, (tx) => readMessage(tx, id));
  return c.json(envelope(asMessage(row)), 200);
};

/** The caller's own message (403 for another's, 404 if not theirs to see). */
async function ownMessage(c: Context<AppBindings>, tx: Queryable, id: string) {
  const row = await readMessage(tx, id);
  if (row.sender_id !== c.var.caller.sub) {
    throw new ApiError("AUTH_002", "Solo quien envió el mensaje puede cambiarlo");
  }
  return row;
}

export const editMessage: AppRouteHandler<EditMessageRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const { content } = c.req.valid("json");
  const message = await chatTransaction(c, async (tx) => {
    await ownMessage(c, tx, id);
    await tx.query("update public.chat_messages set body = $2 where id = $1", [id, content]);
    return asMessage(await readMessage(tx, id));
  });
  return c.json(envelope(message, "Mensaje editado"), 200);
};

export const deleteMessage: AppRouteHandler<DeleteMessageRoute> = async (c) => {
  const { id } = c.req.valid("param");
  await chatTransaction(c, async (tx) => {
    await ownMessage(c, tx, id);
    await tx.query("update public.chat_messages set deleted_at = now() where id = $1", [id]);
  });
  return c.body(null, 204);
};

export const markRead: AppRouteHandler<MarkReadRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const [receipt] = await chatTransaction(c, (tx) =>
    tx.query<{ message_id: string; read_at: string }>(
      "select r.message_id, app.iso(r.read_at) as read_at from app.mark_chat_read($1) r",
      [id],
    ));
  if (!receipt) throw notFound(MESSAGE_NOT_FOUND);
  return c.json(
    envelope({ messageId: receipt.message_id, readBy: c.var.caller.sub, readAt: receipt.read_at }, "Leído"),
    200,
  );
};

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

export const uploadFile: AppRouteHandler<UploadFileRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const body = c.req.valid("json");
  const fileId = crypto.randomUUID();
  await chatTransaction(c, async (tx) => {
    await requireParticipant(tx, body.conversationId);
    await tx.query(
      `insert into public.chat_files (id, conversation_id, uploaded_by, filename, mime_type, size_bytes, sha256)
       values ($1, $2, auth.uid(), $3, $4, $5, $6)`,
      [
        fileId,
        body.conversationId,
        body.filename,
        body.mimeType,
        body.sizeBytes,
        body.sha256?.toLowerCase() ?? null,
      ],
    );
  });
  // Only once the row exists, as the caller: the signed URL uploads exactly this one object.
  const key = objectKey(body.conversationId, fileId);
  const { uploadUrl } = await outside(
    c,
    "storage",
    "signed upload URL",
    () => c.var.deps.storage.createSignedUploadUrl(BUCKET, key),
  );
  return c.json(envelope({ fileId, uploadUrl, bucket: BUCKET, objectKey: key }, "Archivo preparado"), 201);
};

export const downloadFile: AppRouteHandler<DownloadFileRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const file = await chatTransaction(c, async (tx) => {
    const [row] = await tx.query<{ conversation_id: string; filename: string; mime_type: string }>(
      `select f.conversation_id, f.filename, f.mime_type from public.chat_files f
         join public.chat_messages m on m.id = f.message_id
        where f.id = $1 and f.status = 'shared' and m.deleted_at is null`,
      [id],
    );
    if (!row) throw notFound(FILE_NOT_FOUND);
    return row;
  });
  const downloadUrl = await outside(
    c,
    "storage",
    "signed download URL",
    () =>
      c.var.deps.storage.createSignedDownloadUrl(
        BUCKET,
        objectKey(file.conversation_id, id),
        DOWNLOAD_URL_TTL_SECONDS,
        { attachmentName: servedInline(file.mime_type) ? undefined : file.filename },
      ),
    FILE_NOT_FOUND,
  );
  return c.json(envelope({ downloadUrl }), 200);
};

// ---------------------------------------------------------------------------
// Search, unread counts, blocks, reports
// ---------------------------------------------------------------------------

export const search: AppRouteHandler<SearchRoute> = async (c) => {
  const { query, conversationId, limit, cursor } = c.req.valid("query");
  const before = decodeCursor(cursor);
  // As the caller: RLS keeps every other conversation and its messages out.
  const rows = await chatTransaction(
    c,
    (tx) =>
      tx.query<{ id: string; cursor_created_at: string; hit: unknown }>(SEARCH_QUERY, [
        query,
        conversationId ?? null,
        before?.createdAt ?? null,
        before?.id ?? null,
        limit + 1,
      ]),
  );
  const { page, nextCursor } = paginate(rows, limit, (row) => json(row.hit));
  return c.json(pagedEnvelope(page, nextCursor), 200);
};

export const unreadCount: AppRouteHandler<UnreadCountRoute> = async (c) => {
  const rows = await chatTransaction(c, (tx) =>
    tx.query<{ conversation_id: string; unread: number }>(
      `select p.conversation_id, app.chat_unread_count(p.conversation_id) as unread
         from public.conversation_participants p
        where p.user_id = auth.uid() and p.left_at is null`,
    ));
  const conversations = rows
    .map((row) => ({ conversationId: row.conversation_id, unreadCount: Number(row.unread) }))
    .filter((row) => row.unreadCount > 0);
  const total = conversations.reduce((sum, row) => sum + row.unreadCount, 0);
  return c.json(envelope({ total, conversations }), 200);
};

export const blockUser: AppRouteHandler<BlockUserRoute> = async (c) => {
  const { userId } = c.req.valid("json");
  const { row, created } = await chatTransaction(c, async (tx) => {
    const inserted = await tx.query<{ blocked_id: string; blocked_at: string }>(
      `insert into public.chat_blocks (blocker_id, blocked_id) values (auth.uid(), $1)
       on conflict (blocker_id, blocked_id) do nothing
       returning blocked_id, app.iso(created_at) as blocked_at`,
      [userId],
    );
    if (inserted.length) return { row: inserted[0], created: true };
    const [existing] = await tx.query<{ blocked_id: string; blocked_at: string }>(
      `select blocked_id, app.iso(created_at) as blocked_at from public.chat_blocks
        where blocker_id = auth.uid() and blocked_id = $1`,
      [userId],
    );
    return { row: existing, created: false };
  });
  const block = { blockedUserId: row.blocked_id, blockedAt: row.blocked_at };
  return created ? c.json(envelope(block, "Usuario bloqueado"), 201) : c.json(envelope(block), 200);
};

export const unblockUser: AppRouteHandler<UnblockUserRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const removed = await chatTransaction(
    c,
    (tx) =>
      tx.query(
        "delete from public.chat_blocks where blocker_id = auth.uid() and blocked_id = $1 returning blocked_id",
        [
          id,
        ],
      ),
  );
  if (removed.length === 0) throw notFound("Bloqueo no encontrado");
  return c.body(null, 204);
};

interface ReportRow {
  id: string;
  message_id: string;
  conversation_id: string;
  reason: "spam" | "abuse" | "inappropriate" | "misinformation" | "other";
  details: string | null;
  created_at: string;
}

const REPORT_COLUMNS = "id, message_id, conversation_id, reason, details, app.iso(created_at) as created_at";

export const reportMessage: AppRouteHandler<ReportMessageRoute> = async (c) => {
  const { messageId, reason, details } = c.req.valid("json");
  const { row, created } = await chatTransaction(c, async (tx) => {
    const inserted = await tx.query<ReportRow>(
      `insert into public.chat_message_reports (message_id, conversation_id, reported_by, reason, details)
       select m.id, m.conversation_id, auth.uid(), $2::public.chat_report_reason, $3
         from public.chat_messages m where m.id = $1
       on conflict (message_id, reported_by) do nothing
       returning ${REPORT_COLUMNS}`,
      [messageId, reason, details ?? null],
    );
    if (inserted.length) return { row: inserted[0], created: true };
    const [existing] = await tx.query<ReportRow>(
      `select ${REPORT_COLUMNS} from public.chat_message_reports where message_id = $1 and reported_by = auth.uid()`,
      [messageId],
    );
    if (!existing) throw notFound(MESSAGE_NOT_FOUND);
    return { row: existing, created: false };
  });
  const report = {
    id: row.id,
    messageId: row.message_id,
    conversationId: row.conversation_id,
    reason: row.reason,
    details: row.details,
    createdAt: row.created_at,
  };
  return created ? c.json(envelope(report, "Mensaje reportado"), 201) : c.json(envelope(report), 200);
};

export const listReports: AppRouteHandler<ListReportsRoute> = async (c) => {
  requireRole(c, "admin");
  const { limit, cursor } = c.req.valid("query");
  const before = decodeCursor(cursor);
  const rows = await chatTransaction(
    c,
    (tx) =>
      tx.query<{ id: string; cursor_created_at: string; report: unknown }>(
        "select id, cursor_created_at, report from app.chat_reports($1::text::timestamptz, $2::uuid, $3::integer)",
        [before?.createdAt ?? null, before?.id ?? null, limit + 1],
      ),
  );
  const { page, nextCursor } = paginate(rows, limit, (row) => json(row.report));
  return c.json(pagedEnvelope(page, nextCursor), 200);
};

// ---------------------------------------------------------------------------
// Video calls (the video module's LiveKit tokens)
// ---------------------------------------------------------------------------

function callToken(c: Context<AppBindings>, roomName: string) {
  return outside(c, "livekit", "video token", () =>
    c.var.deps.video.issueToken({
      roomName,
      identity: c.var.caller.sub,
      role: c.var.caller.user_role === "doctor" ? "doctor" : "patient",
      ttlSeconds: VIDEO_TOKEN_TTL_SECONDS,
    }));
}

async function readCall(tx: Queryable, id: string): Promise<CallRow> {
  const [row] = await tx.query<CallRow>(`${CALL_SELECT} where v.id = $1`, [id]);
  if (!row) throw notFound(CALL_NOT_FOUND);
  return row;
}

export const startCall: AppRouteHandler<StartCallRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { conversationId } = c.req.valid("json");
  const call = await chatTransaction(c, async (tx) => {
    await requireParticipant(tx, conversationId);
    const [{ id }] = await tx.query<{ id: string }>(
      `insert into public.chat_video_calls (conversation_id, started_by, room_name)
       values ($1, auth.uid(), '') returning id`,
      [conversationId],
    );
    return await readCall(tx, id);
  });
  // Its LiveKit room, once the database has admitted the call (hours, blocks, the daily limit).
  await outside(c, "livekit", "video room", () => c.var.deps.video.createRoom(call.room_name));
  const { token, url } = await callToken(c, call.room_name);
  return c.json(
    envelope({ ...toCall(call), accessToken: token, livekitUrl: url }, "Videollamada iniciada"),
    201,
  );
};

export const joinCall: AppRouteHandler<JoinCallRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { callId } = c.req.valid("json");
  const call = await chatTransaction(c, (tx) => readCall(tx, callId));
  if (call.status !== "active") throw new ApiError("RES_002", "La videollamada terminó");
  const { token, url } = await callToken(c, call.room_name);
  return c.json(envelope({ ...toCall(call), accessToken: token, livekitUrl: url }), 200);
};

export const endCall: AppRouteHandler<EndCallRoute> = async (c) => {
  const { callId } = c.req.valid("json");
  const call = await chatTransaction(c, async (tx) => {
    await readCall(tx, callId);
    await tx.query("update public.chat_video_calls set status = 'ended' where id = $1", [callId]);
    return await readCall(tx, callId);
  });
  return c.json(envelope(toCall(call), "Videollamada terminada"), 200);
};
