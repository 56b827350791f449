/**
 * Uploads, as Supabase Storage does them (src/http/routes/object/
 * getSignedUploadURL.ts, uploadSignedObject.ts, createObject.ts;
 * src/storage/object.ts, uploader.ts):
 *
 * - POST /object/upload/sign/{bucket}/{key}: the caller's INSERT on
 *   storage.objects is tried (and rolled back), so RLS decides; then a token
 *   for that one object, valid `uploadUrlExpiresIn` (Supabase's 2 hours
 *   unless set, as UPLOAD_SIGNED_URL_EXPIRATION_TIME sets Storage's): `{ url, token }`.
 * - PUT /object/upload/sign/{bucket}/{key}?token=: the token is the
 *   authorization; the bytes are stored as the superuser: `{ Key }`.
 * - POST /object/{bucket}/{key}: a direct upload as the caller: `{ Id, Key }`.
 *
 * Every upload: the bucket's allowed_mime_types and file_size_limit, a new
 * version file on disk, then the row (the file goes if the row fails).
 */
import { authenticate, type Caller, SUPERUSER } from "./auth.ts";
import { GLOBAL_FILE_SIZE_LIMIT, json, requiredQuery, type StorageContext, type Target } from "./context.ts";
import { ERRORS } from "./errors.ts";
import { mustBeValidBucketName, mustBeValidKey } from "./keys.ts";
import { signUploadToken, verifySignedToken } from "./signed-urls.ts";
import { readUploadBody } from "./upload-body.ts";

export async function signUploadUrl(ctx: StorageContext, request: Request, t: Target): Promise<Response> {
  const caller = await authenticate(request, ctx.tenantKeys);
  mustBeValidBucketName(t.bucket);
  mustBeValidKey(t.key);
  const upsert = request.headers.get("x-upsert") === "true";
  const contentLength = Number(request.headers.get("content-length") ?? NaN);
  await ctx.objects.testUpload(caller, {
    bucketId: t.bucket,
    name: t.key,
    owner: caller.owner,
    version: "1",
    metadata: {
      mimetype: request.headers.get("content-type") ?? undefined,
      contentLength: Number.isFinite(contentLength) ? contentLength : undefined,
    },
  }, upsert);
  const url = `${t.bucket}/${t.key}`;
  const token = await signUploadToken(ctx.key, { url, owner: caller.owner, upsert }, ctx.uploadUrlExpiresIn);
  return json({ url: `/object/upload/sign/${url}?token=${token}`, token });
}

export async function uploadToSignedUrl(ctx: StorageContext, request: Request, t: Target): Promise<Response> {
  const token = requiredQuery(t.query, "token");
  mustBeValidBucketName(t.bucket);
  const signed = await verifySignedToken(ctx.key, token, t.bucket, t.key, "upload");
  const stored = await storeUpload(ctx, request, t, {
    as: SUPERUSER,
    owner: signed.owner,
    upsert: signed.upsert === true,
  });
  return json({ Key: stored.path });
}

export async function uploadObject(ctx: StorageContext, request: Request, t: Target): Promise<Response> {
  const caller = await authenticate(request, ctx.tenantKeys);
  mustBeValidBucketName(t.bucket);
  const stored = await storeUpload(ctx, request, t, {
    as: caller,
    owner: caller.owner,
    upsert: request.headers.get("x-upsert") === "true",
  });
  return json({ Id: stored.id, Key: stored.path });
}

export async function storeUpload(
  ctx: StorageContext,
  request: Request,
  t: Target,
  by: { as: Caller; owner?: string; upsert: boolean },
): Promise<{ id: string; path: string }> {
  const bucket = await ctx.objects.findBucket(t.bucket);
  if (!bucket) throw ERRORS.noSuchBucket();
  const limit = Math.min(bucket.fileSizeLimit ?? GLOBAL_FILE_SIZE_LIMIT, GLOBAL_FILE_SIZE_LIMIT);
  const upload = await readUploadBody(request, { limit, allowedMimeTypes: bucket.allowedMimeTypes ?? [] });
  mustBeValidKey(t.key);

  const object = {
    bucketId: t.bucket,
    name: t.key,
    owner: by.owner,
    version: crypto.randomUUID(),
    userMetadata: upload.userMetadata,
  };
  await ctx.objects.testUpload(by.as, {
    ...object,
    metadata: { mimetype: upload.mimeType, contentLength: upload.declaredLength },
  }, by.upsert);

  const written = await ctx.files.write(t.bucket, t.key, object.version, upload.body, limit);
  let saved;
  try {
    saved = await ctx.objects.saveObject({
      ...object,
      metadata: {
        eTag: written.eTag,
        size: written.size,
        mimetype: upload.mimeType,
        cacheControl: upload.cacheControl,
        lastModified: written.lastModified.toISOString(),
        contentLength: written.size,
        httpStatusCode: 200,
      },
    }, by.upsert);
  } catch (error) {
    await ctx.files.remove(t.bucket, t.key, object.version).catch(() => {});
    throw error;
  }
  if (saved.replaced && saved.replaced !== object.version) {
    await ctx.files.remove(t.bucket, t.key, saved.replaced).catch(() => {});
  }
  return { id: saved.id, path: `${t.bucket}/${t.key}` };
}
