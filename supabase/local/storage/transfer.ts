/**
 * Moving, copying and replacing objects, as Supabase Storage does
 * (src/http/routes/object/moveObject.ts, copyObject.ts, updateObject.ts;
 * src/storage/object.ts moveObject, copyObject; uploader.ts canUpload):
 *
 * - POST /object/move `{ bucketId, sourceKey, destinationKey, destinationBucket? }`:
 *   the caller must SELECT the source and UPDATE it to its new place (both
 *   tried as the caller and rolled back, so the policies' USING and WITH
 *   CHECK and the triggers decide); then the bytes get a new version there.
 * - POST /object/copy (the same, `copyMetadata`, `metadata`, `x-metadata`,
 *   `x-upsert`): the caller must SELECT the source and INSERT (or upsert)
 *   the destination.
 * - PUT /object/{bucket}/{key}: an upload that replaces (an upsert as the caller).
 */
import { authenticate, SUPERUSER } from "./auth.ts";
import { field, json, readJsonBody, requiredField, type StorageContext, type Target } from "./context.ts";
import { ERRORS } from "./errors.ts";
import { mustBeValidBucketName, mustBeValidKey } from "./keys.ts";
import type { ObjectMetadata } from "./objects.ts";
import { storeUpload } from "./upload.ts";
import { userMetadataOf } from "./upload-body.ts";

interface Transfer {
  bucketId: string;
  sourceKey: string;
  destinationBucket: string;
  destinationKey: string;
}

/** The body's source and destination, in the order Storage's schemas require them. */
function transferOf(body: Record<string, unknown>, required: Array<keyof Transfer>): Transfer {
  const values: Record<string, string> = {};
  for (const name of required) values[name] = requiredField(body, name, { type: "string" }) as string;
  const destinationBucket = field(body, "destinationBucket", { type: "string" }) as string | undefined;
  return {
    bucketId: values.bucketId,
    sourceKey: values.sourceKey,
    destinationKey: values.destinationKey,
    destinationBucket: destinationBucket || values.bucketId,
  };
}

export async function moveObject(ctx: StorageContext, request: Request): Promise<Response> {
  const move = transferOf(await readJsonBody(request), ["bucketId", "sourceKey", "destinationKey"]);
  const caller = await authenticate(request, ctx.tenantKeys);
  mustBeValidKey(move.destinationKey);
  const from = { bucketId: move.bucketId, name: move.sourceKey };
  const to = {
    bucketId: move.destinationBucket,
    name: move.destinationKey,
    version: crypto.randomUUID(),
    owner: caller.owner,
  };
  await ctx.objects.testMove(caller, from, to);
  const source = await ctx.objects.findObject(SUPERUSER, from.bucketId, from.name);
  const done = json({ message: "Successfully moved" });
  if (from.bucketId === to.bucketId && from.name === to.name) return done;
  if (!source.version) throw ERRORS.noSuchKey();

  const copied = await ctx.files.copy(
    { bucket: from.bucketId, key: from.name, version: source.version },
    { bucket: to.bucketId, key: to.name, version: to.version },
  );
  let moved;
  try {
    moved = await ctx.objects.moveObject(from, {
      ...to,
      metadata: { ...source.metadata, lastModified: copied.lastModified.toISOString() },
    });
  } catch (error) {
    await ctx.files.remove(to.bucketId, to.name, to.version).catch(() => {});
    throw error;
  }
  if (moved.previousVersion) {
    await ctx.files.remove(from.bucketId, from.name, moved.previousVersion).catch(() => {});
  }
  return done;
}

export async function copyObject(ctx: StorageContext, request: Request): Promise<Response> {
  const body = await readJsonBody(request);
  const copy = transferOf(body, ["sourceKey", "bucketId", "destinationKey"]);
  const fileMetadata = field(body, "metadata", { type: "object" }) as Record<string, unknown> | undefined;
  const cacheControl = fileMetadata &&
    field(fileMetadata, "cacheControl", { type: "string" }, "body/metadata/cacheControl");
  const mimetype = fileMetadata &&
    field(fileMetadata, "mimetype", { type: "string" }, "body/metadata/mimetype");
  const copyMetadata = (field(body, "copyMetadata", { type: "boolean" }) as boolean | undefined) ?? true;
  const caller = await authenticate(request, ctx.tenantKeys);
  mustBeValidKey(copy.destinationKey);

  const origin = await ctx.objects.findObject(caller, copy.bucketId, copy.sourceKey);
  const metadata: Partial<ObjectMetadata> = { ...origin.metadata };
  if (!copyMetadata) {
    if (cacheControl !== undefined) metadata.cacheControl = cacheControl as string;
    if (mimetype !== undefined) metadata.mimetype = mimetype as string;
  }
  const userMetadata = copyMetadata
    ? origin.user_metadata ?? undefined
    : userMetadataOf(request.headers.get("x-metadata"));
  const upsert = request.headers.get("x-upsert") === "true";
  const destination = {
    bucketId: copy.destinationBucket,
    name: copy.destinationKey,
    owner: caller.owner,
    userMetadata,
  };
  await ctx.objects.testUpload(caller, { ...destination, version: "1", metadata }, upsert);
  if (!origin.version) throw ERRORS.noSuchKey();

  const version = crypto.randomUUID();
  const copied = await ctx.files.copy(
    { bucket: copy.bucketId, key: copy.sourceKey, version: origin.version },
    { bucket: destination.bucketId, key: destination.name, version },
  );
  let saved;
  try {
    saved = await ctx.objects.saveObject({
      ...destination,
      version,
      metadata: { ...metadata, lastModified: copied.lastModified.toISOString() },
    }, true);
  } catch (error) {
    await ctx.files.remove(destination.bucketId, destination.name, version).catch(() => {});
    throw error;
  }
  if (saved.replaced && saved.replaced !== version) {
    await ctx.files.remove(destination.bucketId, destination.name, saved.replaced).catch(() => {});
  }
  const row = await ctx.objects.findObject(SUPERUSER, destination.bucketId, destination.name);
  // Storage's response schema: the deprecated Id and Key, then the row (a missing owner as "").
  return json({
    Id: row.id,
    Key: `${destination.bucketId}/${destination.name}`,
    name: row.name,
    bucket_id: row.bucket_id,
    owner: row.owner ?? "",
    owner_id: row.owner_id ?? "",
    version: row.version,
    id: row.id,
    updated_at: row.updated_at,
    created_at: row.created_at,
    last_accessed_at: row.last_accessed_at,
    metadata: row.metadata,
    user_metadata: row.user_metadata,
  });
}

export async function updateObject(ctx: StorageContext, request: Request, t: Target): Promise<Response> {
  const caller = await authenticate(request, ctx.tenantKeys);
  mustBeValidBucketName(t.bucket);
  const stored = await storeUpload(ctx, request, t, { as: caller, owner: caller.owner, upsert: true });
  return json({ Id: stored.id, Key: stored.path });
}
