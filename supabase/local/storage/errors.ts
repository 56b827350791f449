/**
 * Supabase Storage's errors, as its HTTP API renders them
 * (supabase/storage: src/internal/errors/codes.ts, storage-error.ts and
 * src/http/error-handler.ts): the body is
 * `{ statusCode: "<the error's own status, as a string>", code, error, message }`
 * and the HTTP status is 400 for every 4xx error and 500 for a 500 ("a legacy
 * decision", supabase/storage#323), so `statusCode` is what tells them apart.
 */

export class StorageError extends Error {
  override name = "StorageError";

  constructor(
    /** ErrorCode of supabase/storage, e.g. `NoSuchKey`. */
    readonly code: string,
    /** The error's own status, rendered as the body's `statusCode`. */
    readonly httpStatusCode: number,
    message: string,
    /** The body's `error` (Supabase's backwards-compatible name); the code when absent. */
    readonly error?: string,
    /** The HTTP status, when it is not the usual 400 / 500. */
    readonly responseStatus?: number,
  ) {
    super(message);
  }

  get status(): number {
    return this.responseStatus ?? (this.httpStatusCode === 500 ? 500 : 400);
  }

  toJSON() {
    return {
      statusCode: String(this.httpStatusCode),
      code: this.code,
      error: this.error ?? this.code,
      message: this.message,
    };
  }
}

const error = (code: string, status: number, message: string, name?: string) =>
  new StorageError(code, status, message, name);

/** The errors this stand-in raises, named, worded and numbered as Supabase's. */
export const ERRORS = {
  noSuchBucket: () => error("NoSuchBucket", 404, "Bucket not found", "Bucket not found"),
  noSuchKey: () => error("NoSuchKey", 404, "Object not found", "not_found"),
  invalidBucketName: () => error("InvalidBucketName", 400, "Bucket name invalid", "Invalid Input"),
  invalidKey: (key: string, reason?: string) =>
    error("InvalidKey", 400, reason ? `Invalid key: ${key} ${reason}` : `Invalid key: ${key}`),
  accessDenied: (message?: string) => error("AccessDenied", 403, message || "Access denied", "Unauthorized"),
  invalidJwt: (message?: string) => error("InvalidJWT", 400, message || "Invalid JWT"),
  invalidSignature: (message?: string) => error("InvalidSignature", 400, message || "Invalid signature"),
  expiredSignature: () => error("ExpiredToken", 400, "The provided token has expired."),
  entityTooLarge: (entity = "object") =>
    error("EntityTooLarge", 413, `The ${entity} exceeded the maximum allowed size`, "Payload too large"),
  invalidMimeType: (mimeType: string) =>
    error("InvalidMimeType", 415, `mime type ${mimeType} is not supported`, "invalid_mime_type"),
  keyAlreadyExists: () => error("KeyAlreadyExists", 409, "The resource already exists", "Duplicate"),
  resourceAlreadyExists: () =>
    error("ResourceAlreadyExists", 409, "The resource already exists", "Duplicate"),
  relatedResourceNotFound: () => error("InvalidRequest", 404, "The related resource does not exist"),
  invalidParameter: (parameter: string) => error("InvalidParameter", 400, `Invalid Parameter ${parameter}`),
  invalidRequest: (message: string) => error("InvalidRequest", 400, message),
  noContentProvided: () => error("InvalidRequest", 400, "No content provided"),
  /** Fastify's schema validation (ajv's wording), as the error handler renders it. */
  validation: (message: string) => error("InvalidRequest", 400, message, "Error"),
  /** Fastify's JSON body parser. */
  invalidJsonBody: () =>
    error(
      "InvalidRequest",
      400,
      "Body is not valid JSON but content-type is set to 'application/json'",
      "FastifyError",
    ),
  routeNotFound: (method: string, url: string) =>
    new StorageError("InvalidRequest", 404, `Route ${method}:${url} not found`, "Not Found", 404),
  internal: () => error("InternalError", 500, "Internal server error"),
  /** The backend's range error: its own HTTP status, 416 (StorageBackendError.withStatusCode). */
  invalidRange: () => new StorageError("InvalidRange", 416, "invalid range provided", undefined, 416),
};

export function errorResponse(err: StorageError): Response {
  return new Response(JSON.stringify(err.toJSON()), {
    status: err.status,
    headers: { "Content-Type": "application/json; charset=utf-8" },
  });
}

interface PgErrorLike {
  code: string;
  message?: string;
}

function isPgError(value: unknown): value is PgErrorLike {
  return typeof value === "object" && value !== null &&
    /^[0-9A-Z]{5}$/.test(String((value as { code?: unknown }).code));
}

/**
 * A database error as Supabase's DBError.fromDBError maps it
 * (src/storage/database/errors.ts); undefined for what it renders as a 500.
 */
export function fromDatabaseError(err: unknown): StorageError | undefined {
  if (!isPgError(err)) return undefined;
  switch (err.code) {
    case "42501":
      return ERRORS.accessDenied(
        err.message?.includes("row-level security")
          ? "new row violates row-level security policy"
          : err.message,
      );
    case "23505":
      return ERRORS.resourceAlreadyExists();
    case "23503":
      return ERRORS.relatedResourceNotFound();
    case "22P02":
      return error("InvalidParameter", 400, "Invalid value format or type conversion failed");
    default:
      return undefined;
  }
}
