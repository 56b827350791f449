/**
 * Deleting objects, as Supabase Storage does (src/http/routes/object/
 * deleteObjects.ts, deleteObject.ts; src/storage/object.ts):
 *
 * - DELETE /object/{bucket} `{ prefixes: [...] }`: deletes, as the caller,
 *   what RLS lets them delete, and answers those rows (`[]` when none).
 * - DELETE /object/{bucket}/{key}: one object; AccessDenied when RLS keeps it.
 *
 * The files go once the rows are gone.
 */
import { authenticate, SUPERUSER } from "./auth.ts";
import { json, readJsonBody, type StorageContext, type Target } from "./context.ts";
import { ERRORS } from "./errors.ts";
import { mustBeValidBucketName, mustBeValidKey } from "./keys.ts";
import type { StoredObject } from "./objects.ts";

/** Storage's cap on one bulk request (MAX_OBJECTS_PER_REQUEST). */
const MAX_OBJECTS_PER_REQUEST = 1000;

export async function deleteObjects(ctx: StorageContext, request: Request, t: Target): Promise<Response> {
  const body = await readJsonBody(request); // as in Fastify: the body is validated before the JWT
  if (!("prefixes" in body)) throw ERRORS.validation("body must have required property 'prefixes'");
  const prefixes = body.prefixes;
  if (!Array.isArray(prefixes) || prefixes.some((p) => typeof p !== "string")) {
    throw ERRORS.validation("body/prefixes must be array of strings");
  }
  if (prefixes.length < 1) throw ERRORS.validation("body/prefixes must NOT have fewer than 1 items");
  const caller = await authenticate(request, ctx.tenantKeys);
  if (prefixes.length > MAX_OBJECTS_PER_REQUEST) {
    throw ERRORS.invalidRequest(
      `Bulk object requests are limited to ${MAX_OBJECTS_PER_REQUEST} objects per request.`,
    );
  }
  mustBeValidBucketName(t.bucket);
  const deleted = await ctx.objects.deleteObjects(caller, t.bucket, prefixes as string[]);
  await removeFiles(ctx, deleted);
  return json(deleted);
}

export async function deleteObject(ctx: StorageContext, request: Request, t: Target): Promise<Response> {
  const caller = await authenticate(request, ctx.tenantKeys);
  mustBeValidBucketName(t.bucket);
  mustBeValidKey(t.key);
  await ctx.objects.findObject(SUPERUSER, t.bucket, t.key);
  const deleted = await ctx.objects.deleteObjects(caller, t.bucket, [t.key]);
  if (deleted.length === 0) throw ERRORS.accessDenied("Access denied");
  await removeFiles(ctx, deleted);
  return json({ message: "Successfully deleted" });
}

async function removeFiles(ctx: StorageContext, objects: StoredObject[]): Promise<void> {
  await Promise.all(
    objects.map((o) =>
      o.version ? ctx.files.remove(o.bucket_id, o.name, o.version).catch(() => {}) : Promise.resolve()
    ),
  );
}
