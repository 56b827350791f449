/**
 * ProblemDetails (RFC 9457) with the contract's codes. Handlers throw an
 * ApiError; the one error handler (on-error.ts) answers it.
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export const PROBLEM_TYPE_BASE = "https://consultorio.dev/problems/";

/** Every error code the API answers, with its status and title. */
export const ERROR_CODES = {
  VAL_001: { status: 400, slug: "validation", title: "Error de validación de campos" },
  VAL_002: { status: 400, slug: "required-field", title: "Campo requerido faltante" },
  VAL_003: { status: 400, slug: "passwords-do-not-match", title: "Las contraseñas no coinciden" },
  RES_001: { status: 404, slug: "not-found", title: "Recurso no encontrado" },
  RES_002: { status: 409, slug: "already-exists", title: "Recurso ya existe" },
  APP_001: { status: 409, slug: "appointment-conflict", title: "Conflicto de horario en cita" },
  APP_002: { status: 400, slug: "appointment-not-cancellable", title: "Cita no puede ser cancelada" },
  APP_003: { status: 409, slug: "outside-availability", title: "Fuera del horario del médico" },
  CON_001: { status: 409, slug: "consultation-closed", title: "La consulta está cerrada" },
  CON_002: { status: 409, slug: "consultation-not-in-progress", title: "La consulta no está en curso" },
  CON_003: { status: 409, slug: "consultation-state-conflict", title: "Estado de la consulta no válido" },
  VID_001: { status: 409, slug: "recording-consent-missing", title: "Falta el consentimiento para grabar" },
  VID_002: { status: 409, slug: "recording-not-active", title: "No hay una grabación activa" },
  FILE_001: { status: 413, slug: "file-too-large", title: "Archivo demasiado grande" },
  FILE_002: { status: 409, slug: "file-not-uploaded", title: "Archivo no subido" },
  FILE_003: { status: 400, slug: "file-type-not-allowed", title: "Tipo de archivo no permitido" },
  CHAT_001: { status: 403, slug: "conversation-not-allowed", title: "Conversación no permitida" },
  CHAT_002: { status: 400, slug: "outside-chat-hours", title: "Fuera del horario de chat" },
  CHAT_003: { status: 403, slug: "user-blocked", title: "Usuario bloqueado" },
  CHAT_004: { status: 409, slug: "message-deleted", title: "El mensaje fue eliminado" },
  AUTH_001: { status: 401, slug: "unauthenticated", title: "No autenticado" },
  AUTH_002: { status: 403, slug: "forbidden", title: "No autorizado" },
  AUTH_003: { status: 400, slug: "invalid-or-expired-otp", title: "Código inválido o expirado" },
  RATE_001: { status: 429, slug: "rate-limited", title: "Demasiadas solicitudes" },
  REQ_001: { status: 413, slug: "payload-too-large", title: "Cuerpo de la solicitud demasiado grande" },
  REQ_002: { status: 415, slug: "unsupported-media-type", title: "Tipo de contenido no soportado" },
  SRV_001: { status: 500, slug: "internal", title: "Error interno" },
  SRV_002: { status: 503, slug: "unavailable", title: "Servicio no disponible" },
  SRV_003: { status: 503, slug: "database-unavailable", title: "Base de datos no disponible" },
} as const satisfies Record<string, { status: ContentfulStatusCode; slug: string; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface FieldError {
  field: string;
  message: string;
  rejectedValue?: unknown;
}

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  errors?: FieldError[];
  timestamp: string;
}

export class ApiError extends HTTPException {
  readonly code: ErrorCode;
  readonly detail: string;
  readonly errors?: FieldError[];
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    detail: string,
    options: { errors?: FieldError[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(ERROR_CODES[code].status, { message: detail, cause: options.cause });
    this.name = "ApiError";
    this.code = code;
    this.detail = detail;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }

  toProblem(): ProblemDetails {
    const { status, slug, title } = ERROR_CODES[this.code];
    return {
      type: PROBLEM_TYPE_BASE + slug,
      title,
      status,
      code: this.code,
      detail: this.detail,
      ...(this.errors?.length ? { errors: this.errors } : {}),
      timestamp: new Date().toISOString(),
    };
  }
}

export const notFound = (what = "El recurso solicitado no existe") => new ApiError("RES_001", what);
export const forbidden = (detail = "No tienes permisos para realizar esta acción") =>
  new ApiError("AUTH_002", detail);
export const unauthenticated = (detail = "Token no proporcionado o inválido") =>
  new ApiError("AUTH_001", detail, { headers: { "WWW-Authenticate": 'Bearer realm="consultorio"' } });
export const invalidField = (field: string, message: string, detail = "Los datos enviados no son válidos") =>
  new ApiError("VAL_001", detail, { errors: [{ field, message }] });

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_CODES, value);
}
