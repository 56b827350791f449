/**
 * Answers about an object, shaped like Supabase Storage's renderers
 * (src/storage/renderer/renderer.ts, head.ts, info.ts): the bytes with
 * their headers, the headers alone (HEAD), or the object's info as JSON.
 */
import type { ObjectMetadata, StoredObject } from "./objects.ts";
import type { OpenedFile } from "./files.ts";
import { parseRange, sliceOf } from "./range.ts";

/** Storage never serves text/html as such (normalizeContentType). */
const contentTypeOf = (mimetype: string | undefined) =>
  mimetype?.includes("text/html") ? "text/plain" : mimetype ?? "application/octet-stream";

function metadataHeaders(meta: Partial<ObjectMetadata>, headers: Headers) {
  if (meta.eTag) headers.set("ETag", meta.eTag);
  const lastModified = meta.lastModified ? new Date(meta.lastModified) : undefined;
  if (lastModified && !Number.isNaN(lastModified.getTime())) {
    headers.set("Last-Modified", lastModified.toUTCString());
  }
}

export interface AssetOptions {
  /** A signed URL's expiry: sent as `Expires` instead of Cache-Control. */
  expires?: Date;
  /** The `download` query parameter: `Content-Disposition: attachment`. */
  download?: string | null;
  /** HEAD: the headers without the bytes. */
  head?: boolean;
}

/**
 * The object's bytes, as the file backend and renderer answer them: 304 for
 * a matching If-None-Match or an If-Modified-Since not older than the
 * object, 206 with Content-Range for a `Range`, else 200; every answer says
 * `Accept-Ranges: bytes`. HEAD (Storage's HeadRenderer) answers the headers
 * from the row, without the conditional checks.
 */
export function renderAsset(
  request: Request,
  object: StoredObject,
  opened: OpenedFile | undefined,
  options: AssetOptions = {},
): Response {
  const meta: Partial<ObjectMetadata> = object.metadata ?? {};
  const headers = new Headers({
    "Accept-Ranges": "bytes",
    "Content-Type": contentTypeOf(meta.mimetype),
    "X-Robots-Tag": "none",
  });
  metadataHeaders(meta, headers);
  if (options.expires) headers.set("Expires", options.expires.toUTCString());
  else if (meta.cacheControl) headers.set("Cache-Control", meta.cacheControl);
  if (typeof options.download === "string") {
    const name = encodeURIComponent(options.download);
    headers.set(
      "Content-Disposition",
      options.download === "" ? "attachment;" : `attachment; filename=${name}; filename*=UTF-8''${name}`,
    );
  }
  if (options.head || !opened) {
    opened?.file.close();
    if (meta.contentLength !== undefined) headers.set("Content-Length", String(meta.contentLength));
    return new Response(null, { status: 200, headers });
  }
  if (notModified(request, meta)) {
    opened.file.close();
    return new Response(null, { status: 304, headers });
  }
  const range = request.headers.get("range");
  if (range !== null) {
    let bytes;
    try {
      bytes = parseRange(range, opened.size);
    } catch (error) {
      opened.file.close();
      throw error;
    }
    const length = bytes.end - bytes.start + 1;
    headers.set("Content-Length", String(length));
    headers.set("Content-Range", `bytes ${bytes.start}-${bytes.end}/${opened.size}`);
    return new Response(sliceOf(opened.file, bytes.start, length), { status: 206, headers });
  }
  headers.set("Content-Length", String(opened.size));
  return new Response(opened.file.readable, { status: 200, headers });
}

function notModified(request: Request, meta: Partial<ObjectMetadata>): boolean {
  const ifNoneMatch = request.headers.get("if-none-match");
  if (ifNoneMatch) return ifNoneMatch === meta.eTag;
  const ifModifiedSince = request.headers.get("if-modified-since");
  if (!ifModifiedSince || !meta.lastModified) return false;
  const since = new Date(ifModifiedSince).getTime();
  // HTTP dates have whole seconds; the object's time is compared at that precision.
  const modified = Math.floor(new Date(meta.lastModified).getTime() / 1000) * 1000;
  return !Number.isNaN(since) && modified <= since;
}

/** GET /object/info/...: the object's row, as Storage's InfoRenderer answers it. */
export function renderInfo(object: StoredObject): Response {
  const meta: Partial<ObjectMetadata> = object.metadata ?? {};
  const headers = new Headers({ "Content-Type": "application/json" });
  metadataHeaders(meta, headers);
  if (meta.cacheControl) headers.set("Cache-Control", meta.cacheControl);
  const body = {
    id: object.id,
    name: object.name,
    version: object.version,
    bucket_id: object.bucket_id,
    size: meta.size ?? null,
    content_type: meta.mimetype ?? null,
    cache_control: meta.cacheControl ?? null,
    etag: meta.eTag ?? null,
    metadata: object.user_metadata,
    last_modified: object.updated_at,
    created_at: object.created_at,
  };
  return new Response(JSON.stringify(body), { status: 200, headers });
}
