/**
 * Listing, as Supabase Storage does it (src/http/routes/object/listObjects.ts,
 * src/http/routes/bucket/getAllBuckets.ts, getBucket.ts; src/storage/object.ts
 * searchObjects; storage.search()), each a query as the caller, so RLS decides:
 *
 * - POST /object/list/{bucket} `{ prefix, limit, offset, sortBy, search }`:
 *   one level of a folder: its folders (`id: null`) and files.
 * - GET /bucket[?limit&offset&sortColumn&sortOrder&search]: the buckets the
 *   policies on storage.buckets show the caller (service_role: all).
 * - GET /bucket/{id}: one of them, else NoSuchBucket.
 */
import { authenticate } from "./auth.ts";
import { field, json, readJsonBody, requiredField, type StorageContext, type Target } from "./context.ts";
import type { BucketListOptions, SearchOptions } from "./objects.ts";

/** storage.search() answers at most this many entries at once. */
const MAX_SEARCH_LIMIT = 1500;
const SEARCH_COLUMNS = ["name", "updated_at", "created_at", "last_accessed_at"] as const;
const ORDERS = ["asc", "desc"] as const;

export async function listFolder(ctx: StorageContext, request: Request, t: Target): Promise<Response> {
  const body = await readJsonBody(request); // validated before the JWT, as Fastify does
  let prefix = requiredField(body, "prefix", { type: "string" }) as string;
  const limit = field(body, "limit", { type: "integer", min: 1 }) as number | undefined;
  const offset = field(body, "offset", { type: "integer", min: 0 }) as number | undefined;
  const sortBy = field(body, "sortBy", { type: "object" }) as Record<string, unknown> | undefined;
  const column = sortBy
    ? requiredField(sortBy, "column", { type: "enum", values: SEARCH_COLUMNS }, "body/sortBy")
    : undefined;
  const order = sortBy
    ? field(sortBy, "order", { type: "enum", values: ORDERS }, "body/sortBy/order")
    : undefined;
  const search = field(body, "search", { type: "string" }) as string | undefined;
  const caller = await authenticate(request, ctx.tenantKeys);

  // Storage takes the prefix as a folder.
  if (prefix.length > 0 && !prefix.endsWith("/")) prefix = `${prefix}/`;
  const entries = await ctx.objects.searchFolder(caller, t.bucket, prefix, {
    limit: Math.min(limit || 100, MAX_SEARCH_LIMIT),
    offset: offset ?? 0,
    search: search ?? "",
    column: (column as SearchOptions["column"] | undefined) ?? "name",
    order: order as SearchOptions["order"],
  });
  return json(entries);
}

export async function listBuckets(ctx: StorageContext, request: Request, t: Target): Promise<Response> {
  const query = Object.fromEntries(t.query);
  const options: BucketListOptions = {
    limit: field(query, "limit", { type: "integer", min: 1 }, "querystring/limit") as number | undefined,
    offset: field(query, "offset", { type: "integer", min: 0 }, "querystring/offset") as number | undefined,
    sortColumn: field(query, "sortColumn", {
      type: "enum",
      values: ["id", "name", "created_at", "updated_at"],
    }, "querystring/sortColumn") as BucketListOptions["sortColumn"],
    sortOrder: field(query, "sortOrder", { type: "enum", values: ORDERS }, "querystring/sortOrder") as
      | BucketListOptions["sortOrder"]
      | undefined,
    search: field(query, "search", { type: "string" }, "querystring/search") as string | undefined,
  };
  const caller = await authenticate(request, ctx.tenantKeys);
  return json(await ctx.objects.listBuckets(caller, options));
}

export async function getBucket(ctx: StorageContext, request: Request, t: Target): Promise<Response> {
  const caller = await authenticate(request, ctx.tenantKeys);
  return json(await ctx.objects.getBucket(caller, t.bucket));
}
