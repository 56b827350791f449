/**
 * StorageAdapter over Supabase Storage with the official client
 * (@supabase/supabase-js, loaded on first use), configured only by the
 * project's URL and service_role key: the same code talks to a Supabase
 * project and to the local stand-in.
 */
import type { ObjectInfo, SignedUpload, StorageAdapter } from "./storage.ts";
import { StorageAdapterError, StorageObjectMissing } from "./storage.ts";

export interface SupabaseStorageSettings {
  url?: string;
  /** A secret key (sb_secret_...) or the legacy service_role key. */
  secretKey?: string;
}

type SupabaseClient = import("@supabase/supabase-js").SupabaseClient;

interface ClientError {
  message: string;
  status?: number;
  statusCode?: string;
  code?: string;
}

/** Supabase's "Object not found" (NoSuchKey; older servers say only statusCode 404). */
const isMissingObject = (error: ClientError) =>
  error.code === "NoSuchKey" ||
  (error.code === undefined && error.statusCode === "404" && error.message === "Object not found");

const fail = (operation: string, error: ClientError) =>
  new (isMissingObject(error) ? StorageObjectMissing : StorageAdapterError)(
    `Storage ${operation} failed: ${error.message}`,
    error.status,
    error.code ?? error.statusCode,
  );

export function createSupabaseStorageAdapter(settings: SupabaseStorageSettings): StorageAdapter {
  let client: Promise<SupabaseClient> | undefined;

  const bucketOf = async (bucket: string) => {
    const { url, secretKey } = settings;
    if (!url || !secretKey) {
      throw new StorageAdapterError(
        "Storage is not configured: set SUPABASE_URL and SUPABASE_SECRET_KEY (or SUPABASE_SERVICE_ROLE_KEY)",
      );
    }
    client ??= import("@supabase/supabase-js").then(({ createClient }) =>
      createClient(url, secretKey, {
        auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      })
    );
    return (await client).storage.from(bucket);
  };

  return {
    async createSignedUploadUrl(bucket, path): Promise<SignedUpload> {
      const { data, error } = await (await bucketOf(bucket)).createSignedUploadUrl(path);
      if (error) throw fail("createSignedUploadUrl", error);
      return { uploadUrl: data.signedUrl, token: data.token };
    },

    async objectInfo(bucket, path): Promise<ObjectInfo | undefined> {
      const { data, error } = await (await bucketOf(bucket)).info(path);
      if (error) {
        if (isMissingObject(error)) return undefined;
        throw fail("info", error);
      }
      return {
        size: Number(data.size ?? 0),
        mimeType: data.contentType ?? "application/octet-stream",
        version: data.version ?? undefined,
      };
    },

    async readStart(bucket, path, maxBytes): Promise<Uint8Array | undefined> {
      const { data, error } = await (await bucketOf(bucket)).download(path).asStream();
      if (error) {
        if (isMissingObject(error as ClientError)) return undefined;
        throw fail("download", error as ClientError);
      }
      return await firstBytes(data, maxBytes);
    },

    async createSignedDownloadUrl(bucket, path, expiresInSeconds, options = {}): Promise<string> {
      const { data, error } = await (await bucketOf(bucket)).createSignedUrl(path, expiresInSeconds);
      if (error) throw fail("createSignedUrl", error);
      if (options.attachmentName === undefined) return data.signedUrl;
      // Storage answers `?download=<name>` with Content-Disposition: attachment under that
      // name. Set here, not through the client's `download` option: it encodes the name
      // twice (URLSearchParams, then encodeURI), so "análisis" would arrive as "an%C3%A1lisis".
      const url = new URL(data.signedUrl);
      url.searchParams.set("download", options.attachmentName);
      return url.toString();
    },

    async remove(bucket, paths): Promise<void> {
      if (paths.length === 0) return;
      const { error } = await (await bucketOf(bucket)).remove(paths);
      if (error) throw fail("remove", error);
    },
  };
}

/** Up to `maxBytes` from the stream's start; the rest is never read. */
async function firstBytes(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const out = new Uint8Array(maxBytes);
  let length = 0;
  const reader = stream.getReader();
  try {
    while (length < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      const part = value.subarray(0, maxBytes - length);
      out.set(part, length);
      length += part.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return out.subarray(0, length);
}
