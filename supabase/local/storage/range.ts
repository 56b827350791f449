/**
 * The `Range` of a download, read as Supabase Storage's file backend reads
 * it (src/storage/range.ts): one `bytes=` range, `start-end`, `start-` or
 * `-suffix`, its end capped at the object's last byte. Anything else (a
 * malformed header, a start past the end, an empty object) is InvalidRange,
 * answered with HTTP 416 as Storage answers it.
 */
import { ERRORS } from "./errors.ts";

export interface ByteRange {
  start: number;
  /** Inclusive, as in Content-Range. */
  end: number;
}

export function parseRange(header: string, size: number): ByteRange {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header);
  if (!match || size <= 0 || (!match[1] && !match[2])) throw ERRORS.invalidRange();
  const [, from, to] = match;
  if (!from) {
    const suffix = Number(to);
    if (!Number.isSafeInteger(suffix) || suffix <= 0) throw ERRORS.invalidRange();
    return { start: Math.max(size - suffix, 0), end: size - 1 };
  }
  const start = Number(from);
  const end = to ? Number(to) : size - 1;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start || start >= size) {
    throw ERRORS.invalidRange();
  }
  return { start, end: Math.min(end, size - 1) };
}

/** `length` bytes of `file` from `start`, as a stream that closes the file when done or cancelled. */
export function sliceOf(file: Deno.FsFile, start: number, length: number): ReadableStream<Uint8Array> {
  let left = length;
  let positioned = false;
  const close = () => {
    try {
      file.close();
    } catch { /* already closed */ }
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!positioned) {
        await file.seek(start, Deno.SeekMode.Start);
        positioned = true;
      }
      if (left <= 0) {
        close();
        controller.close();
        return;
      }
      const chunk = new Uint8Array(Math.min(left, 64 * 1024));
      const read = await file.read(chunk);
      if (read === null || read === 0) {
        close();
        controller.close();
        return;
      }
      left -= read;
      controller.enqueue(chunk.subarray(0, read));
    },
    cancel: close,
  });
}
