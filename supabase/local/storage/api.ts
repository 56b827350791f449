/**
 * The local stand-in for Supabase Storage's HTTP API, at /storage/v1/*: the
 * object and bucket routes @supabase/storage-js calls (signed uploads and
 * downloads, uploads and updates, info, byte ranges, list and list-v2, move,
 * copy, deletes, listBuckets and getBucket), with Supabase's errors. Objects
 * live on local disk under `<dataDir>/storage/`, their rows in
 * storage.objects, and every access is a query as the caller's role with the
 * caller's claims, so the policies of the migrations decide, as they do on
 * Supabase.
 */
import type { Logger } from "../../../shared/app/logger.ts";
import { describeError } from "../../../shared/app/logger.ts";
import type { Database } from "../../../shared/db/database.ts";
import type { TenantKeys } from "../tenant-keys.ts";
import { importSecret } from "./auth.ts";
import type { StorageContext, Target } from "./context.ts";
import { downloadObject, downloadSigned, objectInfo, signDownloadUrl, signDownloadUrls } from "./download.ts";
import { errorResponse, ERRORS, StorageError } from "./errors.ts";
import { createFileStore } from "./files.ts";
import { createObjectStore } from "./objects.ts";
import { deleteObject, deleteObjects } from "./remove.ts";
import { listObjectsV2 } from "./list-v2.ts";
import { getBucket, listBuckets, listFolder } from "./listing.ts";
import { SIGNED_UPLOAD_URL_TTL_SECONDS } from "./signed-urls.ts";
import { copyObject, moveObject, updateObject } from "./transfer.ts";
import { signUploadUrl, uploadObject, uploadToSignedUrl } from "./upload.ts";

export interface StorageApiOptions {
  db: Database;
  /** The project's secret (callers' HS256 tokens, signed URLs) and JWKS (callers' asymmetric tokens). */
  tenantKeys: TenantKeys;
  /** Objects are kept under `<dataDir>/storage/<bucket>/<key>/`. */
  dataDir: string;
  /** Seconds a signed upload URL lasts (Storage's UPLOAD_SIGNED_URL_EXPIRATION_TIME); Supabase's 2 hours by default. */
  uploadUrlExpiresIn?: number;
  logger?: Logger;
}

type Handler = (ctx: StorageContext, request: Request, target: Target) => Promise<Response>;

interface Route {
  operation: string;
  method: string;
  /** On the encoded path after /storage/v1: the bucket, then (if any) the key. */
  path: RegExp;
  handler: Handler;
}

const OBJECT = "([^/]+)/(.+)";
const route = (operation: string, method: string, path: string, handler: Handler): Route => ({
  operation,
  method,
  path: new RegExp(`^/object/${path}$`),
  handler,
});
/** Routes whose body names the objects: no bucket or key in the path. */
const bodyRoute = (operation: string, path: string, handler: Handler): Route => ({
  operation,
  method: "POST",
  path: new RegExp(`^/object/${path}()$`),
  handler,
});

/** Matched in order, like Fastify's router: static segments before parameters. */
const ROUTES: Route[] = [
  { operation: "bucket.list", method: "GET", path: /^\/bucket\/?()$/, handler: listBuckets },
  { operation: "bucket.get", method: "GET", path: /^\/bucket\/([^/]+)$/, handler: getBucket },
  bodyRoute("object.move", "move", moveObject),
  bodyRoute("object.copy", "copy", copyObject),
  route("object.list", "POST", "list/([^/]+)", listFolder),
  route("object.list_v2", "POST", "list-v2/([^/]+)", listObjectsV2),
  route("object.upload_sign", "POST", `upload/sign/${OBJECT}`, signUploadUrl),
  route("object.upload_signed", "PUT", `upload/sign/${OBJECT}`, uploadToSignedUrl),
  route("object.sign", "POST", `sign/${OBJECT}`, signDownloadUrl),
  route("object.sign_many", "POST", "sign/([^/]+)/?", signDownloadUrls),
  route("object.get_signed", "GET", `sign/${OBJECT}`, (c, r, t) => downloadSigned(c, r, t, false)),
  route("object.get_signed", "HEAD", `sign/${OBJECT}`, (c, r, t) => downloadSigned(c, r, t, true)),
  route("object.info", "GET", `info/authenticated/${OBJECT}`, (c, r, t) => objectInfo(c, r, t, {})),
  route("object.info", "GET", `info/public/${OBJECT}`, (c, r, t) => objectInfo(c, r, t, { public: true })),
  route(
    "object.info",
    "GET",
    `info/${OBJECT}`,
    (c, r, t) => objectInfo(c, r, t, { allowInvalidJwt: true }),
  ),
  route("object.get", "GET", `authenticated/${OBJECT}`, (c, r, t) => downloadObject(c, r, t, {})),
  route("object.head", "HEAD", `authenticated/${OBJECT}`, (c, r, t) => objectInfo(c, r, t, { head: true })),
  route("object.get", "GET", `public/${OBJECT}`, (c, r, t) => downloadObject(c, r, t, { public: true })),
  route(
    "object.head",
    "HEAD",
    `public/${OBJECT}`,
    (c, r, t) => objectInfo(c, r, t, { public: true, head: true }),
  ),
  route(
    "object.get",
    "GET",
    OBJECT,
    (c, r, t) => downloadObject(c, r, t, { allowInvalidJwt: true }),
  ),
  route(
    "object.head",
    "HEAD",
    OBJECT,
    (c, r, t) => objectInfo(c, r, t, { allowInvalidJwt: true, head: true }),
  ),
  route("object.create", "POST", OBJECT, uploadObject),
  route("object.update", "PUT", OBJECT, updateObject),
  route("object.delete", "DELETE", OBJECT, deleteObject),
  route("object.delete_many", "DELETE", "([^/]+)/?", deleteObjects),
];

const PREFIX = "/storage/v1";

/** Supabase's gateway answers CORS for Storage (its `cors` plugin, default settings). */
function withCors(response: Response): Response {
  response.headers.set("Access-Control-Allow-Origin", "*");
  return response;
}

function preflight(request: Request): Response {
  return withCors(
    new Response(null, {
      status: 200,
      headers: {
        "Access-Control-Allow-Methods": "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS",
        "Access-Control-Allow-Headers": request.headers.get("access-control-request-headers") ?? "",
      },
    }),
  );
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw ERRORS.invalidKey(part);
  }
}

export async function createStorageApi(options: StorageApiOptions) {
  const ctx: StorageContext = {
    key: await importSecret(options.tenantKeys.secret),
    tenantKeys: options.tenantKeys,
    objects: createObjectStore(options.db),
    files: createFileStore(`${options.dataDir}/storage`),
    uploadUrlExpiresIn: options.uploadUrlExpiresIn ?? SIGNED_UPLOAD_URL_TTL_SECONDS,
  };
  const log = options.logger?.child({ service: "storage" });

  return async (request: Request): Promise<Response> => {
    const started = performance.now();
    const url = new URL(request.url);
    const path = url.pathname.startsWith(PREFIX) ? url.pathname.slice(PREFIX.length) : url.pathname;
    if (request.method === "OPTIONS") return preflight(request);

    let operation = "not_found";
    let response: Response;
    try {
      const match = ROUTES.map((r) => ({ r, m: r.method === request.method ? r.path.exec(path) : null }))
        .find(({ m }) => m);
      if (!match?.m) throw ERRORS.routeNotFound(request.method, path + url.search);
      operation = match.r.operation;
      const target: Target = {
        bucket: decode(match.m[1]),
        key: match.m[2] === undefined ? "" : decode(match.m[2]),
        query: url.searchParams,
      };
      response = await match.r.handler(ctx, request, target);
    } catch (error) {
      if (!(error instanceof StorageError)) {
        log?.error("storage: unexpected error", { operation, ...describeError(error) });
      }
      response = errorResponse(error instanceof StorageError ? error : ERRORS.internal());
    }
    // What a route did not read (a refused upload's bytes) is dropped, not buffered.
    if (request.body && !request.bodyUsed) await request.body.cancel().catch(() => {});
    log?.info("storage request", {
      method: request.method,
      operation,
      status: response.status,
      durationMs: Math.round(performance.now() - started),
    });
    return withCors(response);
  };
}
