/**
 * Files in Supabase Storage, as the modules see them. The modules authorize
 * the caller themselves (in the database, as the caller) before they call
 * this: the adapter acts with the project's service_role key.
 */
export interface SignedUpload {
  /** Absolute URL a browser PUTs the file to (with the token in its query). */
  uploadUrl: string;
  token: string;
}

export interface ObjectInfo {
  size: number;
  mimeType: string;
  /** Storage's version of the object (`storage.objects.version`): a new upload is a new version. */
  version?: string;
}

export interface StorageAdapter {
  /** A URL that uploads exactly `path` once, without other credentials (Supabase: valid 2 hours). */
  createSignedUploadUrl(bucket: string, path: string): Promise<SignedUpload>;
  /** The stored object's size and type, or undefined if there is none. */
  objectInfo(bucket: string, path: string): Promise<ObjectInfo | undefined>;
  /** The object's first `maxBytes` bytes (all of a smaller one), or undefined if there is none. */
  readStart(bucket: string, path: string, maxBytes: number): Promise<Uint8Array | undefined>;
  /**
   * An absolute URL that downloads `path` for `expiresInSeconds`; with
   * `attachmentName`, served as `Content-Disposition: attachment` under that
   * name. StorageObjectMissing if there is no such object.
   */
  createSignedDownloadUrl(
    bucket: string,
    path: string,
    expiresInSeconds: number,
    options?: { attachmentName?: string },
  ): Promise<string>;
  /** Deletes the objects (missing ones are ignored). */
  remove(bucket: string, paths: string[]): Promise<void>;
}

/** Storage refused or could not be reached; `code` is Supabase's (e.g. `EntityTooLarge`) when it answered. */
export class StorageAdapterError extends Error {
  override name = "StorageAdapterError";

  constructor(message: string, readonly status?: number, readonly code?: string) {
    super(message);
  }
}

/** Storage has no such object (Supabase's NoSuchKey): the caller's 404, not an outage. */
export class StorageObjectMissing extends StorageAdapterError {
  override name = "StorageObjectMissing";
}
