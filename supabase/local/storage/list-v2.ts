/**
 * POST /object/list-v2/{bucket} (storage-js `listV2`), as Supabase Storage
 * answers it (src/http/routes/object/listObjectsV2.ts; src/storage/object.ts
 * listObjectsV2; storage.search_v2()): `{ prefix, limit, cursor,
 * with_delimiter, sortBy }` → `{ hasNext, nextCursor?, nextCursorKey?,
 * folders, objects }`, names in full. With the delimiter, what lies deeper
 * than one level is one folder (`"<prefix><name>/"`, id null); without it,
 * every object under the prefix. Pages hold at most 1000 entries; the cursor
 * is Storage's (base64 of `l:<last name>`, `o:<order>`, `c:<column>`, `a:<its time>`
 * lines). The rows are read as the caller, so RLS decides; the paging is
 * done here, over what they may see.
 */
import { authenticate } from "./auth.ts";
import { field, json, readJsonBody, requiredField, type StorageContext, type Target } from "./context.ts";
import { ERRORS } from "./errors.ts";
import type { ListedObject } from "./objects.ts";

const MAX_KEYS = 1000;
type Column = "name" | "updated_at" | "created_at";

interface Cursor {
  startAfter: string;
  order?: "asc" | "desc";
  column?: Column;
  after?: string;
}

const CURSOR_PARTS = { l: "startAfter", o: "order", c: "column", a: "after" } as const;

function encodeCursor(cursor: Cursor): string {
  const lines = Object.entries(CURSOR_PARTS)
    .filter(([, key]) => cursor[key])
    .map(([part, key]) => `${part}:${cursor[key]}`);
  return btoa(String.fromCharCode(...new TextEncoder().encode(lines.join("\n"))));
}

function decodeCursor(token: string): Cursor {
  let text: string;
  try {
    text = new TextDecoder().decode(Uint8Array.from(atob(token), (c) => c.charCodeAt(0)));
  } catch {
    throw ERRORS.invalidParameter("continuation token");
  }
  const cursor: Record<string, string> = { startAfter: "", order: "asc" };
  for (const line of text.split("\n")) {
    const match = /^(\S):(.*)/.exec(line);
    if (!match || !(match[1] in CURSOR_PARTS)) throw ERRORS.invalidParameter("continuation token");
    cursor[CURSOR_PARTS[match[1] as keyof typeof CURSOR_PARTS]] = match[2];
  }
  return cursor as unknown as Cursor;
}

export async function listObjectsV2(ctx: StorageContext, request: Request, t: Target): Promise<Response> {
  const body = await readJsonBody(request);
  const prefix = (field(body, "prefix", { type: "string" }) as string | undefined) ?? "";
  const limit = field(body, "limit", { type: "integer", min: 1 }) as number | undefined;
  const token = field(body, "cursor", { type: "string" }) as string | undefined;
  const delimited = field(body, "with_delimiter", { type: "boolean" }) === true;
  const sortBy = field(body, "sortBy", { type: "object" }) as Record<string, unknown> | undefined;
  const sortColumn = sortBy &&
    requiredField(
      sortBy,
      "column",
      { type: "enum", values: ["name", "updated_at", "created_at"] },
      "body/sortBy",
    );
  const sortOrder = sortBy &&
    field(sortBy, "order", { type: "enum", values: ["asc", "desc"] }, "body/sortBy/order");
  const caller = await authenticate(request, ctx.tenantKeys);

  const cursor = token ? decodeCursor(token) : undefined;
  const order = cursor?.order ?? (sortOrder as Cursor["order"]) ?? "asc";
  const column = cursor?.column ?? (sortColumn as Column | undefined) ?? "name";
  const max = Math.min(limit || MAX_KEYS, MAX_KEYS);

  const rows = await ctx.objects.objectsUnder(caller, t.bucket, prefix);
  const entries = delimited ? foldersAndFiles(rows, prefix) : rows.map((row) => ({ ...row }));
  entries.sort(compareBy(column, order));
  const after = cursor?.startAfter;
  const page = after === undefined
    ? entries
    : entries.filter((e) => isAfter(e, after, cursor, column, order));
  const hasNext = page.length > max;
  const shown = page.slice(0, max);
  const last = shown.at(-1);
  return json({
    hasNext,
    ...(hasNext && last
      ? {
        nextCursor: encodeCursor({
          startAfter: last.name,
          order: cursor?.order ?? (sortOrder as Cursor["order"]),
          column: cursor?.column ?? (sortColumn as Column | undefined),
          after: column !== "name" && last[column] ? new Date(last[column]!).toISOString() : undefined,
        }),
        nextCursorKey: last.name,
      }
      : {}),
    folders: shown.filter((e) => e.id === null).map((e) => ({ id: null, name: e.name })),
    objects: shown.filter((e) => e.id !== null),
  });
}

type Entry = Omit<ListedObject, "id"> & { id: string | null; key?: string };

/** One level under `prefix`: a folder per next segment, the files there with their `key` (last part). */
function foldersAndFiles(rows: ListedObject[], prefix: string): Entry[] {
  const entries: Entry[] = [];
  const seen = new Set<string>();
  const level = prefix ? prefix.split("/").length : 1;
  for (const row of rows) {
    const slash = row.name.indexOf("/", prefix.length);
    if (slash >= 0) {
      const folder = row.name.slice(0, slash + 1);
      if (seen.has(folder)) continue;
      seen.add(folder);
      entries.push({
        id: null,
        name: folder,
        metadata: null,
        updated_at: null,
        created_at: null,
        last_accessed_at: null,
      });
    } else {
      const { id, name, updated_at, created_at, last_accessed_at, metadata } = row;
      entries.push({
        key: name.split("/")[level - 1] ?? "",
        name,
        id,
        updated_at,
        created_at,
        last_accessed_at,
        metadata,
      });
    }
  }
  return entries;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const timeOf = (e: Entry, column: Column) => (e[column] ? new Date(e[column]!).getTime() : 0);

function compareBy(column: Column, order: "asc" | "desc") {
  const sign = order === "desc" ? -1 : 1;
  return (a: Entry, b: Entry) =>
    sign *
    (column === "name"
      ? byName(a.name, b.name)
      : timeOf(a, column) - timeOf(b, column) || byName(a.name, b.name));
}

/** Past the cursor: after its name (and time, for a time order); a folder's objects go with it. */
function isAfter(
  e: Entry,
  startAfter: string,
  cursor: Cursor | undefined,
  column: Column,
  order: "asc" | "desc",
) {
  if (startAfter.endsWith("/") && e.name.startsWith(startAfter)) return false;
  const sign = order === "desc" ? -1 : 1;
  if (column !== "name" && cursor?.after) {
    const time = timeOf(e, column) - new Date(cursor.after).getTime();
    return sign * (time || byName(e.name, startAfter)) > 0;
  }
  return sign * byName(e.name, startAfter) > 0;
}
