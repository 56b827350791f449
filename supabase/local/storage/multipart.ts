/**
 * The multipart/form-data upload that @supabase/storage-js sends for a Blob
 * or FormData body: text fields (cacheControl, metadata, contentType) then
 * one file part, whose field name is empty (`body.append('', file)`), which
 * the runtime's own FormData parser drops. Like @fastify/multipart's
 * `request.file()`, this reads the fields before the first file part and
 * that part. The body may be a prefix of the request (cut at a size cap):
 * the file part is then marked incomplete.
 */
import { ERRORS, StorageError } from "./errors.ts";

export interface MultipartFile {
  /** The part's Content-Type, if it had one. */
  type?: string;
  data: Uint8Array;
  /** False when the body ended (was cut) before the part's closing boundary. */
  complete: boolean;
}

export interface MultipartUpload {
  fields: Map<string, string>;
  file?: MultipartFile;
}

const CRLF = new Uint8Array([13, 10]);
const HEADER_END = new Uint8Array([13, 10, 13, 10]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const malformed = (message: string) => new StorageError("InvalidRequest", 400, message);

export function boundaryOf(contentType: string): string {
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) throw malformed("Multipart: Boundary not found");
  return boundary;
}

export function parseMultipart(body: Uint8Array, contentType: string, cut: boolean): MultipartUpload {
  const delimiter = encoder.encode(`--${boundaryOf(contentType)}`);
  const nextDelimiter = concat(CRLF, delimiter);
  const fields = new Map<string, string>();

  let at = indexOf(body, delimiter, 0);
  if (at < 0) throw ERRORS.noContentProvided();
  at += delimiter.length;
  while (at < body.length) {
    if (body[at] === 45 && body[at + 1] === 45) break; // "--": the closing delimiter
    if (startsWith(body, CRLF, at)) at += 2;
    const headersEnd = indexOf(body, HEADER_END, at);
    if (headersEnd < 0) break;
    const headers = parseHeaders(decoder.decode(body.subarray(at, headersEnd)));
    const start = headersEnd + HEADER_END.length;
    const end = indexOf(body, nextDelimiter, start);
    const disposition = headers.get("content-disposition") ?? "";
    const isFile = /;\s*filename\*?=/i.test(disposition);
    if (end < 0) {
      if (isFile && cut) {
        return {
          fields,
          file: { type: headers.get("content-type"), data: body.subarray(start), complete: false },
        };
      }
      if (cut) break;
      throw malformed("Unexpected end of form");
    }
    if (isFile) {
      return {
        fields,
        file: { type: headers.get("content-type"), data: body.subarray(start, end), complete: true },
      };
    }
    const name = /;\s*name="([^"]*)"/i.exec(disposition)?.[1];
    if (name !== undefined && !fields.has(name)) fields.set(name, decoder.decode(body.subarray(start, end)));
    at = end + nextDelimiter.length;
  }
  return { fields };
}

function parseHeaders(text: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  for (let i = haystack.indexOf(first, from); i >= 0; i = haystack.indexOf(first, i + 1)) {
    if (i + needle.length > haystack.length) return -1;
    if (startsWith(haystack, needle, i)) return i;
  }
  return -1;
}

function startsWith(haystack: Uint8Array, needle: Uint8Array, at: number): boolean {
  if (at + needle.length > haystack.length) return false;
  for (let j = 0; j < needle.length; j++) if (haystack[at + j] !== needle[j]) return false;
  return true;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
