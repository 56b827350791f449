/**
 * Reading objects, as Supabase Storage does (src/http/routes/object/
 * getSignedURL.ts, getSignedURLs.ts, getSignedObject.ts, getObject.ts,
 * getPublicObject.ts, getObjectInfo.ts; src/storage/object.ts):
 *
 * - POST /object/sign/{bucket}/{key} `{ expiresIn }`: only if the caller can
 *   SELECT the object (RLS): `{ signedURL: "/object/sign/...?token=" }`.
 * - POST /object/sign/{bucket} `{ expiresIn, paths }`: one entry per path.
 * - GET|HEAD /object/sign/{bucket}/{key}?token=: the token is the
 *   authorization (no JWT needed), for that object until it expires.
 * - GET /object/authenticated/{bucket}/{key}, GET /object/{bucket}/{key}:
 *   the bytes, if the caller can SELECT the object.
 * - GET /object/info[/authenticated]/{bucket}/{key}, HEAD
 *   /object[/authenticated]/{bucket}/{key}: its info, likewise.
 * - The /public/ variants: only in a public bucket.
 */
import { authenticate, type Caller, SUPERUSER } from "./auth.ts";
import {
  expiresInOf,
  json,
  readJsonBody,
  requiredQuery,
  type StorageContext,
  type Target,
} from "./context.ts";
import { ERRORS } from "./errors.ts";
import { mustBeValidBucketName, mustBeValidKey } from "./keys.ts";
import type { StoredObject } from "./objects.ts";
import { renderAsset, renderInfo } from "./render.ts";
import { assertValidExpiresIn, signDownloadToken, verifySignedToken } from "./signed-urls.ts";

// As in Fastify, a route's body is parsed and validated before its JWT is checked.

export async function signDownloadUrl(ctx: StorageContext, request: Request, t: Target): Promise<Response> {
  const expiresIn = expiresInOf(await readJsonBody(request));
  const caller = await authenticate(request, ctx.tenantKeys);
  assertValidExpiresIn(expiresIn);
  mustBeValidBucketName(t.bucket);
  mustBeValidKey(t.key);
  await ctx.objects.findObject(caller, t.bucket, t.key);
  const url = `${t.bucket}/${t.key}`;
  const token = await signDownloadToken(ctx.key, url, expiresIn);
  return json({ signedURL: `/object/sign/${url}?token=${token}` });
}

export async function signDownloadUrls(ctx: StorageContext, request: Request, t: Target): Promise<Response> {
  const body = await readJsonBody(request);
  const expiresIn = expiresInOf(body);
  if (!("paths" in body)) throw ERRORS.validation("body must have required property 'paths'");
  const paths = body.paths;
  if (!Array.isArray(paths) || paths.some((p) => typeof p !== "string")) {
    throw ERRORS.validation("body/paths must be array of strings");
  }
  if (paths.length < 1) throw ERRORS.validation("body/paths must NOT have fewer than 1 items");
  const caller = await authenticate(request, ctx.tenantKeys);
  assertValidExpiresIn(expiresIn);
  mustBeValidBucketName(t.bucket);
  const visible = await ctx.objects.visibleNames(caller, t.bucket, paths);
  const results = await Promise.all(paths.map(async (path: string) => {
    if (!visible.has(path)) {
      return {
        error: "Either the object does not exist or you do not have access to it",
        path,
        signedURL: null,
      };
    }
    const url = `${t.bucket}/${path}`;
    const token = await signDownloadToken(ctx.key, url, expiresIn);
    return { error: null, path, signedURL: `/object/sign/${url}?token=${token}` };
  }));
  return json(results);
}

export async function downloadSigned(
  ctx: StorageContext,
  request: Request,
  t: Target,
  head: boolean,
): Promise<Response> {
  const token = requiredQuery(t.query, "token");
  mustBeValidBucketName(t.bucket);
  const signed = await verifySignedToken(ctx.key, token, t.bucket, t.key, "download");
  mustBeValidKey(t.key);
  const object = await ctx.objects.findObject(SUPERUSER, t.bucket, t.key);
  return await serve(ctx, request, object, {
    expires: new Date(signed.exp * 1000),
    download: t.query.get("download"),
    head,
  });
}

export interface ReadMode {
  /** The /public/ routes: no caller, the bucket must be public. */
  public?: boolean;
  /** Storage's `allowInvalidJwt`: a missing or bad JWT reads as anon. */
  allowInvalidJwt?: boolean;
}

export async function downloadObject(
  ctx: StorageContext,
  request: Request,
  t: Target,
  mode: ReadMode,
): Promise<Response> {
  const object = await readable(ctx, request, t, mode);
  return await serve(ctx, request, object, { download: t.query.get("download") });
}

export async function objectInfo(
  ctx: StorageContext,
  request: Request,
  t: Target,
  mode: ReadMode & { head?: boolean },
): Promise<Response> {
  const object = await readable(ctx, request, t, mode);
  return mode.head ? renderAsset(request, object, undefined, { head: true }) : renderInfo(object);
}

/** The object, if the caller may read it: public buckets to anyone, others through RLS. */
async function readable(
  ctx: StorageContext,
  request: Request,
  t: Target,
  mode: ReadMode,
): Promise<StoredObject> {
  const caller: Caller | undefined = mode.public
    ? undefined
    : await authenticate(request, ctx.tenantKeys, { allowInvalidJwt: mode.allowInvalidJwt });
  mustBeValidBucketName(t.bucket);
  const bucket = await ctx.objects.findBucket(t.bucket);
  if (!bucket || (!bucket.public && !caller?.authenticated)) throw ERRORS.noSuchBucket();
  mustBeValidKey(t.key);
  return await ctx.objects.findObject(bucket.public || !caller ? SUPERUSER : caller, t.bucket, t.key);
}

async function serve(
  ctx: StorageContext,
  request: Request,
  object: StoredObject,
  options: Parameters<typeof renderAsset>[3],
): Promise<Response> {
  if (options?.head) return renderAsset(request, object, undefined, options);
  const opened = object.version
    ? await ctx.files.open(object.bucket_id, object.name, object.version)
    : undefined;
  if (!opened) throw ERRORS.noSuchKey();
  return renderAsset(request, object, opened, options);
}
