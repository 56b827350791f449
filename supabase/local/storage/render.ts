/**
 * Answers about an object, shaped like Supabase Storage's renderers
 * (src/storage/renderer/renderer.ts, head.ts, info.ts): the bytes with
 * their headers, the headers alone (HEAD), or the object's info as JSON.
 */
import type { ObjectMetadata, StoredObject } from "./objects.ts";
import type { OpenedFile } from "./files.ts";

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

/** The object's bytes (or, for HEAD or a matching If-None-Match, its headers only). */
export function renderAsset(
  request: Request,
  object: StoredObject,
  opened: OpenedFile | undefined,
  options: AssetOptions = {},
): Response {
  const meta: Partial<ObjectMetadata> = object.metadata ?? {};
  const headers = new Headers({
    "Content-Type": contentTypeOf(meta.mimetype),
    "X-Robots-Tag": "none",
  });
  metadataHeaders(meta, headers);
  const size = opened?.size ?? meta.contentLength;
  if (size !== undefined) headers.set("Content-Length", String(size));
  if (options.expires) headers.set("Expires", options.expires.toUTCString());
  else if (meta.cacheControl) headers.set("Cache-Control", meta.cacheControl);
  if (typeof options.download === "string") {
    const name = encodeURIComponent(options.download);
    headers.set(
      "Content-Disposition",
      options.download === "" ? "attachment;" : `attachment; filename=${name}; filename*=UTF-8''${name}`,
    );
  }
  const notModified = meta.eTag !== undefined && request.headers.get("if-none-match") === meta.eTag;
  if (options.head || notModified || !opened) {
    opened?.file.close();
    if (notModified) headers.delete("Content-Length");
    return new Response(null, { status: notModified ? 304 : 200, headers });
  }
  return new Response(opened.file.readable, { status: 200, headers });
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
