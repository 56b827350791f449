/**
 * StorageAdapter over Supabase Storage with the official client
 * (@supabase/supabase-js, loaded on first use), configured only by the
 * project's URL and service_role key: the same code talks to a Supabase
 * project and to the local stand-in.
 */
import type { ObjectInfo, SignedUpload, StorageAdapter } from "./storage.ts";
import { StorageAdapterError } from "./storage.ts";

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

const fail = (operation: string, error: ClientError) =>
  new StorageAdapterError(
    `Storage ${operation} failed: ${error.message}`,
    error.status,
    error.code ?? error.statusCode,
  );

/** Supabase's "Object not found" (NoSuchKey; older servers say only statusCode 404). */
const isMissingObject = (error: ClientError) =>
  error.code === "NoSuchKey" ||
  (error.code === undefined && error.statusCode === "404" && error.message === "Object not found");

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
      };
    },

    async createSignedDownloadUrl(bucket, path, expiresInSeconds): Promise<string> {
      const { data, error } = await (await bucketOf(bucket)).createSignedUrl(path, expiresInSeconds);
      if (error) throw fail("createSignedUrl", error);
      return data.signedUrl;
    },

    async remove(bucket, paths): Promise<void> {
      if (paths.length === 0) return;
      const { error } = await (await bucketOf(bucket)).remove(paths);
      if (error) throw fail("remove", error);
    },
  };
}
