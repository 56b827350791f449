/**
 * Bucket names and object keys, checked as Supabase checks them
 * (src/storage/limits.ts: isValidKey, isValidBucketName) and, because the
 * objects live on local disk, as Supabase's file backend does before it
 * touches the filesystem (src/storage/backend/secure-path.ts): no NUL, no
 * absolute path, no `.` or `..` segment, nothing resolving outside the root.
 */
import { ERRORS } from "./errors.ts";

// Hyphen last so it stays a literal.
const VALID_OBJECT_KEY = /^[A-Za-z0-9_/!.*'() &$=@;:+,?-]*$/;
const VALID_BUCKET_NAME = /^[A-Za-z0-9_!.*'() &$=@;:+,?-]*$/;

export function mustBeValidBucketName(name: string): void {
  if (!name || name.length > 100 || !VALID_BUCKET_NAME.test(name) || name === "." || name === "..") {
    throw ERRORS.invalidBucketName();
  }
}

/** S3-safe characters only (so no NUL, no backslash), relative, without dot segments. */
export function mustBeValidKey(key: string): void {
  if (!key || !VALID_OBJECT_KEY.test(key)) throw ERRORS.invalidKey(key);
  if (key.startsWith("/")) throw ERRORS.invalidKey(key, "must be a relative path");
  if (key.split("/").some((segment) => segment === "." || segment === "..")) {
    throw ERRORS.invalidKey(key, "contains dot path segment");
  }
}

/**
 * The folder of an object's versions: `<root>/<bucket>/<key>`, after the
 * checks above and a last one that the result stays under `<root>/<bucket>/`.
 */
export function objectFolder(root: string, bucket: string, key: string): string {
  mustBeValidKey(key);
  const base = `${bucketFolder(root, bucket)}/`;
  const folder = normalize(base + key);
  if (!folder.startsWith(base) || folder.length === base.length) {
    throw ERRORS.invalidKey(key, "resolves outside storage directory");
  }
  return folder;
}

/** `<root>/<bucket>`. */
export function bucketFolder(root: string, bucket: string): string {
  mustBeValidBucketName(bucket);
  return `${trimSlashes(root)}/${bucket}`;
}

const trimSlashes = (path: string) => path.replace(/\/+$/, "");

/** Collapses repeated slashes and drops a trailing one (dot segments were refused already). */
function normalize(path: string): string {
  return path.replace(/\/{2,}/g, "/").replace(/\/$/, "");
}
