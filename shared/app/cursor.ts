/**
 * Opaque keyset cursors over (created_at, id), or (rank, created_at, id) for a
 * list that puts some rows first (a chat's pinned conversations). The
 * timestamp travels as PostgreSQL's own text (microseconds), because a
 * JavaScript Date keeps only milliseconds and would repeat or skip rows.
 */
import { invalidField } from "./problem.ts";

export interface Keyset {
  createdAt: string;
  id: string;
  /** The leading sort key of a ranked list (0 or 1), absent otherwise. */
  rank?: number;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:?\d{2})?|Z)?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeCursor(key: Keyset): string {
  const parts = key.rank === undefined ? [key.createdAt, key.id] : [key.createdAt, key.id, key.rank];
  const bytes = new TextEncoder().encode(JSON.stringify(parts));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string | undefined): Keyset | undefined {
  if (cursor === undefined) return undefined;
  try {
    const binary = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const [createdAt, id, rank, ...rest] = JSON.parse(binary);
    if (typeof createdAt === "string" && TIMESTAMP.test(createdAt) && UUID.test(id) && rest.length === 0) {
      if (rank === undefined) return { createdAt, id };
      if (rank === 0 || rank === 1) return { createdAt, id, rank };
    }
  } catch {
    // falls through to the validation error
  }
  throw invalidField("cursor", "cursor no válido");
}

/**
 * Given limit+1 rows (each with `id` and `cursor_created_at`: the exact text
 * of the timestamp the list is ordered by), the page and the next cursor.
 */
export function paginate<R extends { id: string; cursor_created_at: string; cursor_rank?: number }, T>(
  rows: R[],
  limit: number,
  map: (row: R) => T,
) {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const nextCursor = rows.length > limit && last
    ? encodeCursor({ createdAt: last.cursor_created_at, id: last.id, rank: last.cursor_rank })
    : null;
  return { page: page.map(map), nextCursor };
}
