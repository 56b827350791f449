/**
 * Whether an uploaded file's bytes are what its declared type says. A
 * client declares the type at prepare, Storage stores and serves the bytes
 * under it: without this check an HTML page declared as image/png is kept
 * and handed back from the project's origin. The type is told by the
 * content's signature (file-type, loaded on first use); plain text, which has
 * none, must decode as UTF-8 without control characters.
 */
import type { Queryable } from "../db/database.ts";

/** Enough of a file for every signature below (file-type reads at most about 4 KiB of these). */
export const CONTENT_SAMPLE_BYTES = 64 * 1024;

/** The types a bucket allows, and what file-type reports for a genuine file of each. */
const SIGNATURES: Record<string, readonly string[]> = {
  "application/pdf": ["application/pdf"],
  "image/jpeg": ["image/jpeg"],
  "image/png": ["image/png", "image/apng"],
  "image/webp": ["image/webp"],
  "application/msword": ["application/x-cfb"],
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": [
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  ],
  "audio/mpeg": ["audio/mpeg"],
  "video/mp4": ["video/mp4"],
};

let fileType: Promise<typeof import("file-type")> | undefined;

/**
 * Whether `bucket/name` is still the version that was sampled, asked in the
 * transaction that confirms it, once that transaction holds the file's row
 * (`for update`): the trigger on storage.objects takes the same row before
 * an object of it is deleted or stored, so the sampled bytes cannot be
 * swapped for others until the confirmation has committed (and then the
 * file is kept). The caller reads the row as themself (their own pending
 * file, or their conversation's).
 */
export async function isSampledVersion(
  tx: Queryable,
  bucket: string,
  name: string,
  version: string | undefined,
): Promise<boolean> {
  const [row] = await tx.query<{ version: string | null }>(
    "select o.version from storage.objects o where o.bucket_id = $1 and o.name = $2",
    [bucket, name],
  );
  return version !== undefined && row?.version === version;
}

/** Whether `sample` (a file's first bytes, or all of it) is of the `declared` type. Unknown types: no. */
export async function contentIsOfType(
  declared: string,
  sample: Uint8Array,
  complete: boolean,
): Promise<boolean> {
  fileType ??= import("file-type");
  const detected = sample.length ? (await (await fileType).fileTypeFromBuffer(sample))?.mime : undefined;
  if (declared === "text/plain") return detected === undefined && isPlainText(sample, complete);
  return detected !== undefined && (SIGNATURES[declared]?.includes(detected) ?? false);
}

// Tab, line feed, form feed and carriage return are text; the other C0 and C1 controls and DEL are not.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000e-\u001f\u007f-\u009f]/;

function isPlainText(sample: Uint8Array, complete: boolean): boolean {
  try {
    // A cut sample may end inside a character: `stream` leaves that tail undecoded.
    const text = new TextDecoder("utf-8", { fatal: true }).decode(sample, { stream: !complete });
    return !CONTROL.test(text);
  } catch {
    return false;
  }
}

/** Images and PDFs open in the browser; anything else is downloaded, under its own name. */
export const servedInline = (mimeType: string) =>
  mimeType.startsWith("image/") || mimeType === "application/pdf";
