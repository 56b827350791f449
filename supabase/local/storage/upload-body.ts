/**
 * The file in an upload request, read as Supabase Storage reads it
 * (src/storage/uploader.ts: fileUploadFromRequest, validateMimeType):
 * multipart/form-data (a Blob or FormData from storage-js) or a raw body
 * whose Content-Type is the object's. The bucket's allowed_mime_types and
 * size limit are enforced here: the mime type from the form's contentType
 * field, the file part's type or the Content-Type header; the size from
 * Content-Length when given, otherwise while the bytes arrive.
 */
import { ERRORS } from "./errors.ts";
import { parseMultipart } from "./multipart.ts";

export interface UploadBody {
  body: ReadableStream<Uint8Array> | null;
  mimeType: string;
  cacheControl: string;
  userMetadata?: Record<string, unknown>;
  /** The request's Content-Length, when it gave one. */
  declaredLength?: number;
}

/** Storage's cap on user metadata (MAX_CUSTOM_METADATA_SIZE). */
const MAX_USER_METADATA_BYTES = 1024 * 1024;
/** Room for the form's fields and boundaries around a file at the size limit. */
const MULTIPART_OVERHEAD_BYTES = MAX_USER_METADATA_BYTES + 64 * 1024;

/** Throws InvalidMimeType unless `mimeType` matches one of `allowed` (`type/*` matches a whole type). */
export function validateMimeType(mimeType: string, allowed: readonly string[]): void {
  const [type, subtype] = mimeType.split("/");
  if (subtype !== undefined) {
    for (const entry of allowed) {
      const [allowedType, allowedSubtype] = entry.split("/");
      if (allowedType === type && (allowedSubtype === "*" || allowedSubtype === subtype)) return;
    }
  }
  throw ERRORS.invalidMimeType(mimeType);
}

export async function readUploadBody(
  request: Request,
  rules: { limit: number; allowedMimeTypes: readonly string[] },
): Promise<UploadBody> {
  const contentType = request.headers.get("content-type") ?? "";
  const declaredLength = contentLengthOf(request);
  const checkMime = (mimeType: string) => {
    if (rules.allowedMimeTypes.length > 0) validateMimeType(mimeType, rules.allowedMimeTypes);
  };

  if (/^multipart\/form-data/i.test(contentType)) {
    const { bytes, cut } = await readCapped(request.body, rules.limit + MULTIPART_OVERHEAD_BYTES);
    const { fields, file } = parseMultipart(bytes, contentType, cut);
    if (!file) throw ERRORS.noContentProvided();
    const mimeType = fields.get("contentType") || file.type || "application/octet-stream";
    checkMime(mimeType);
    const metadata = fields.get("metadata") ?? fields.get("userMetadata");
    if (metadata !== undefined && new TextEncoder().encode(metadata).length > MAX_USER_METADATA_BYTES) {
      throw ERRORS.entityTooLarge("user_metadata");
    }
    if (!file.complete || file.data.length > rules.limit) throw ERRORS.entityTooLarge();
    const cacheTime = fields.get("cacheControl");
    return {
      body: streamOf(file.data),
      mimeType,
      cacheControl: cacheTime ? `max-age=${cacheTime}` : "no-cache",
      userMetadata: parseJsonObject(metadata),
      declaredLength,
    };
  }

  const mimeType = contentType || "application/octet-stream";
  checkMime(mimeType);
  const userMetadata = userMetadataOf(request.headers.get("x-metadata"));
  if (declaredLength !== undefined && declaredLength > rules.limit) throw ERRORS.entityTooLarge();
  return {
    body: request.body,
    mimeType,
    cacheControl: request.headers.get("cache-control") ?? "no-cache",
    userMetadata,
    declaredLength,
  };
}

/** The `x-metadata` header: base64 of a JSON object (Storage's parseUserMetadata). */
export function userMetadataOf(header: string | null): Record<string, unknown> | undefined {
  return header === null ? undefined : parseJsonObject(decodeBase64(header));
}

function contentLengthOf(request: Request): number | undefined {
  const value = Number(request.headers.get("content-length") ?? NaN);
  return Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** Reads up to `cap` bytes; `cut` when the body had more (the rest is not read). */
async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  cap: number,
): Promise<{ bytes: Uint8Array; cut: boolean }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let cut = false;
  if (body) {
    for await (const chunk of body) {
      if (size + chunk.byteLength > cap) {
        chunks.push(chunk.subarray(0, cap - size));
        size = cap;
        cut = true;
        break;
      }
      chunks.push(chunk);
      size += chunk.byteLength;
    }
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return { bytes, cut };
}

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      if (bytes.length > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
}

function decodeBase64(value: string): string | undefined {
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
}

/** Storage ignores user metadata that is not JSON. */
function parseJsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}
