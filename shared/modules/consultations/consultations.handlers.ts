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
import { ApiError, forbidden, notFound } from "../../app/problem.ts";
import { requireRole } from "../../app/roles.ts";
import type { AppBindings, AppRouteHandler } from "../../app/types.ts";
import type { Queryable } from "../../db/database.ts";
import { afterCommitInLiveKit, VIDEO_TOKEN_TTL_SECONDS, videoAccess } from "../video/video.handlers.ts";
import {
  ADMIN_PAGE_QUERY,
  asMessage,
  BUCKET,
  CONSULTATION_NOT_FOUND,
  type ConsultationRow,
  type FileRow,
  memberPageQuery,
  MESSAGE_SELECT,
  type MessageRow,
  objectKey,
  readConsultation,
  toConsultation,
} from "./consultations.queries.ts";
import type {
  ConfirmFileRoute,
  DownloadFileRoute,
  GetOneRoute,
  JoinRoute,
  ListMessagesRoute,
  ListRoute,
  MarkDeliveredRoute,
  OpenRoute,
  PrepareFileRoute,
  SendMessageRoute,
  TransitionRoute,
  VideoTokenRoute,
} from "./consultations.routes.ts";

const DOWNLOAD_URL_TTL_SECONDS = 5 * 60;
const MESSAGE_NOT_FOUND = "Mensaje no encontrado";
const FILE_NOT_FOUND = "Archivo no encontrado";

const isAdmin = (c: Context<AppBindings>) => c.var.caller.user_role === "admin";

const closed = () => new ApiError("CON_001", "La consulta está cerrada");

/** The consultation's status if the caller takes part in it (RLS), or 404. */
async function memberStatus(tx: Queryable, id: string) {
  const [row] = await tx.query<Pick<ConsultationRow, "status" | "doctor_id" | "room_name">>(
    "select c.status, c.doctor_id, c.room_name from public.consultations c where c.id = $1",
    [id],
  );
  if (!row) throw notFound(CONSULTATION_NOT_FOUND);
  return row;
}

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

export const open: AppRouteHandler<OpenRoute> = async (c) => {
  requireRole(c, "doctor", "admin");
  const { appointmentId } = c.req.valid("json");
  const { row, created } = await c.var.db.transaction(async (tx) => {
    const [opened] = await tx.query<{ id: string; created: boolean }>(
      "select id, created from app.open_consultation($1)",
      [appointmentId],
    );
    return { row: await readConsultation(tx, opened.id, isAdmin(c)), created: opened.created };
  });
  return created
    ? c.json(envelope(toConsultation(row), "Consulta abierta"), 201)
    : c.json(envelope(toConsultation(row)), 200);
};

export const list: AppRouteHandler<ListRoute> = async (c) => {
  const { limit, cursor } = c.req.valid("query");
  const after = decodeCursor(cursor);
  const role = c.var.caller.user_role;
  const sql = role === "admin"
    ? ADMIN_PAGE_QUERY
    : memberPageQuery(role === "doctor" ? "doctor_id" : "patient_id");
  const rows = await c.var.db.query<ConsultationRow>(sql, [
    after?.createdAt ?? null,
    after?.id ?? null,
    limit + 1,
  ]);
  const { page, nextCursor } = paginate(rows, limit, toConsultation);
  return c.json(pagedEnvelope(page, nextCursor), 200);
};

export const getOne: AppRouteHandler<GetOneRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const row = await c.var.db.transaction((tx) => readConsultation(tx, id, isAdmin(c)));
  return c.json(envelope(toConsultation(row)), 200);
};

function transition(fn: string, message: string, ...roles: Array<"doctor" | "patient" | "admin">) {
  const handler: AppRouteHandler<TransitionRoute> = async (c) => {
    requireRole(c, ...roles);
    const { id } = c.req.valid("param");
    const row = await c.var.db.transaction(async (tx) => {
      await tx.query(`select app.${fn}($1)`, [id]);
      return await readConsultation(tx, id, isAdmin(c));
    });
    return c.json(envelope(toConsultation(row), message), 200);
  };
  return handler;
}

export const checkIn = transition("check_in_consultation", "En la sala de espera", "patient");
export const start = transition("start_consultation", "Consulta iniciada", "doctor");
/**
 * Closing also ends the consultation's video room, once the close has
 * committed. If LiveKit fails, the close stands: LiveKit ends an empty room by
 * itself, and no new token is issued for a closed consultation.
 */
export const close: AppRouteHandler<TransitionRoute> = async (c) => {
  requireRole(c, "doctor", "admin");
  const { id } = c.req.valid("param");
  const { row, roomName } = await c.var.db.transaction(async (tx) => {
    const [{ room }] = await tx.query<{ room: string | null }>("select app.close_consultation($1) as room", [
      id,
    ]);
    return { row: await readConsultation(tx, id, isAdmin(c)), roomName: room };
  });
  if (roomName) {
    await afterCommitInLiveKit(c, "ending the room at close", (video) => video.deleteRoom(roomName));
  }
  return c.json(envelope(toConsultation(row), "Consulta cerrada"), 200);
};

export const join: AppRouteHandler<JoinRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  const row = await c.var.db.transaction((tx) => memberStatus(tx, id));
  return c.json(
    envelope({ ok: true as const, serverTime: new Date().toISOString(), consultationStatus: row.status }),
    200,
  );
};

export const videoToken: AppRouteHandler<VideoTokenRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  // The doctor, the patient, or an observer the doctor granted (subscribe only).
  const access = await c.var.db.transaction((tx) => videoAccess(tx, id));
  if (access.status === "closed") throw closed();
  if (access.status !== "in_progress" || !access.room_name) {
    throw new ApiError("CON_002", "La consulta todavía no empezó: el token se emite cuando está en curso");
  }
  const roomName = access.room_name;
  const expiresAt = new Date(Date.now() + VIDEO_TOKEN_TTL_SECONDS * 1000).toISOString();
  const { token, url } = await outside(c, "livekit", "video token", () =>
    c.var.deps.video.issueToken({
      roomName,
      identity: c.var.caller.sub,
      role: access.role,
      ttlSeconds: VIDEO_TOKEN_TTL_SECONDS,
    }));
  return c.json(
    envelope({ token, roomName, livekitUrl: url, tokenTtlSeconds: VIDEO_TOKEN_TTL_SECONDS, expiresAt }),
    200,
  );
};

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

export const sendMessage: AppRouteHandler<SendMessageRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  const { text, clientMsgId } = c.req.valid("json");
  const { message, created } = await c.var.db.transaction(async (tx) => {
    const { status } = await memberStatus(tx, id);
    if (status === "closed") throw closed();
    const inserted = await tx.query<{ id: string }>(
      `insert into public.consultation_messages (consultation_id, sender_id, kind, body, client_msg_id)
       values ($1, auth.uid(), 'text', $2, $3)
       on conflict (consultation_id, sender_id, client_msg_id) do nothing
       returning id`,
      [id, text, clientMsgId ?? null],
    );
    const [row] = inserted.length
      ? await tx.query<MessageRow>(`${MESSAGE_SELECT} where m.id = $1`, [inserted[0].id])
      : await tx.query<MessageRow>(
        `${MESSAGE_SELECT} where m.consultation_id = $1 and m.sender_id = auth.uid() and m.client_msg_id = $2`,
        [id, clientMsgId],
      );
    return { message: asMessage(row), created: inserted.length > 0 };
  });
  const ack = { ok: true as const, clientMsgId: clientMsgId ?? null, message };
  return created ? c.json(envelope(ack, "Mensaje enviado"), 201) : c.json(envelope(ack), 200);
};

export const listMessages: AppRouteHandler<ListMessagesRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  const { limit, cursor, since } = c.req.valid("query");
  const after = decodeCursor(cursor);
  const result = await c.var.db.transaction(async (tx) => {
    await memberStatus(tx, id);
    const rows = await tx.query<MessageRow>(
      `${MESSAGE_SELECT}
        where m.consultation_id = $1
          and ($2::text is null or (m.created_at, m.id) > ($2::text::timestamptz, $3::uuid))
          and ($5::text is null or m.created_at >= $5::text::timestamptz)
        order by m.created_at, m.id
        limit $4`,
      [id, after?.createdAt ?? null, after?.id ?? null, limit + 1, since ?? null],
    );
    return paginate(rows, limit, asMessage);
  });
  return c.json(envelope({ items: result.page, pageInfo: { nextCursor: result.nextCursor } }), 200);
};

export const markDelivered: AppRouteHandler<MarkDeliveredRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id, messageId } = c.req.valid("param");
  const message = await c.var.db.transaction(async (tx) => {
    const [found] = await tx.query<MessageRow>(
      `${MESSAGE_SELECT} where m.id = $1 and m.consultation_id = $2`,
      [messageId, id],
    );
    if (!found) throw notFound(MESSAGE_NOT_FOUND);
    if (found.sender_id === c.var.caller.sub) {
      throw forbidden("Solo el destinatario marca un mensaje como entregado");
    }
    await tx.query(
      "update public.consultation_messages set delivered_at = coalesce(delivered_at, now()) where id = $1",
      [messageId],
    );
    const [row] = await tx.query<MessageRow>(`${MESSAGE_SELECT} where m.id = $1`, [messageId]);
    return asMessage(row);
  });
  return c.json(envelope(message, "Mensaje entregado"), 200);
};

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

export const prepareFile: AppRouteHandler<PrepareFileRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  const fileId = crypto.randomUUID();
  await c.var.db.transaction(async (tx) => {
    const { status } = await memberStatus(tx, id);
    if (status === "closed") throw closed();
    await tx.query(
      `insert into public.consultation_files
         (id, consultation_id, uploaded_by, filename, mime_type, size_bytes, sha256)
       values ($1, $2, auth.uid(), $3, $4, $5, $6)`,
      [fileId, id, body.filename, body.mimeType, body.sizeBytes, body.sha256?.toLowerCase() ?? null],
    );
  });
  // Only once the row exists, as the caller: the signed URL uploads exactly this one object.
  const key = objectKey(id, fileId);
  const { uploadUrl } = await outside(
    c,
    "storage",
    "signed upload URL",
    () => c.var.deps.storage.createSignedUploadUrl(BUCKET, key),
  );
  return c.json(envelope({ fileId, uploadUrl, bucket: BUCKET, objectKey: key }, "Archivo preparado"), 201);
};

/** The file's bytes are not of its declared type: 400 FILE_003, its object removed. */
class ContentMismatch extends ApiError {
  constructor() {
    super("FILE_003", "El contenido del archivo no corresponde al tipo declarado", {
      errors: [{ field: "fileId", message: "el contenido no es del tipo declarado (mimeType)" }],
    });
  }
}

export const confirmFile: AppRouteHandler<ConfirmFileRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  const { fileId } = c.req.valid("json");
  const key = objectKey(id, fileId);
  // Asked before the transaction (Storage is another service); used only once
  // the transaction has shown that the caller may see the file.
  const [info, sample] = await outside(c, "storage", "object info", () =>
    Promise.all([
      c.var.deps.storage.objectInfo(BUCKET, key),
      c.var.deps.storage.readStart(BUCKET, key, CONTENT_SAMPLE_BYTES),
    ]));
  let result;
  try {
    result = await c.var.db.transaction(async (tx) => {
      const { status } = await memberStatus(tx, id);
      const [file] = await tx.query<FileRow>(
        `select f.id, f.consultation_id, f.uploaded_by, f.size_bytes, f.mime_type, f.status
           from public.consultation_files f where f.id = $1 and f.consultation_id = $2`,
        [fileId, id],
      );
      if (!file) throw notFound(FILE_NOT_FOUND);
      if (file.status === "uploaded") {
        const [row] = await tx.query<MessageRow>(`${MESSAGE_SELECT} where m.file_id = $1`, [fileId]);
        if (row) return { message: asMessage(row), created: false };
      }
      if (status === "closed") throw closed();
      if (file.uploaded_by !== c.var.caller.sub) throw forbidden("Solo quien subió el archivo lo confirma");
      await tx.query("select 1 from public.consultation_files f where f.id = $1 for update", [fileId]);
      if (info && sample && !await isSampledVersion(tx, BUCKET, key, info.version)) {
        throw new ApiError("FILE_002", "El archivo cambió mientras se confirmaba: vuelve a confirmarlo", {
          errors: [{ field: "fileId", message: "cambió durante la confirmación" }],
        });
      }
      if (!info || !sample || info.size !== Number(file.size_bytes)) {
        throw new ApiError(
          "FILE_002",
          info ? "El archivo subido no tiene el tamaño declarado" : "El archivo no fue subido",
          {
            errors: [{ field: "fileId", message: info ? "tamaño distinto del declarado" : "no fue subido" }],
          },
        );
      }
      if (!await contentIsOfType(file.mime_type, sample, sample.length >= info.size)) {
        throw new ContentMismatch();
      }
      await tx.query("update public.consultation_files set status = 'uploaded' where id = $1", [fileId]);
      const [{ id: messageId }] = await tx.query<{ id: string }>(
        `insert into public.consultation_messages (consultation_id, sender_id, kind, file_id)
         values ($1, auth.uid(), 'file', $2) returning id`,
        [id, fileId],
      );
      const [row] = await tx.query<MessageRow>(`${MESSAGE_SELECT} where m.id = $1`, [messageId]);
      return { message: asMessage(row), created: true };
    });
  } catch (error) {
    // Thrown only for the uploader's own pending file: its object goes and the row stays
    // pending, so the right bytes may still go to the same signed URL.
    if (error instanceof ContentMismatch) {
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
  return created ? c.json(envelope(message, "Archivo confirmado"), 201) : c.json(envelope(message), 200);
};

export const downloadFile: AppRouteHandler<DownloadFileRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id, fileId } = c.req.valid("param");
  const file = await c.var.db.transaction(async (tx) => {
    await memberStatus(tx, id);
    const [row] = await tx.query<{ filename: string; mime_type: string }>(
      `select f.filename, f.mime_type from public.consultation_files f
        where f.id = $1 and f.consultation_id = $2 and f.status = 'uploaded'`,
      [fileId, id],
    );
    if (!row) throw notFound(FILE_NOT_FOUND);
    return row;
  });
  const downloadUrl = await outside(
    c,
    "storage",
    "signed download URL",
    () =>
      c.var.deps.storage.createSignedDownloadUrl(BUCKET, objectKey(id, fileId), DOWNLOAD_URL_TTL_SECONDS, {
        attachmentName: servedInline(file.mime_type) ? undefined : file.filename,
      }),
    FILE_NOT_FOUND,
  );
  return c.json(envelope({ downloadUrl }), 200);
};
