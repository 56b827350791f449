/**
 * storage.buckets and storage.objects, queried as Supabase Storage queries
 * them (src/storage/database/pg.ts): each in a transaction as the caller's
 * role with the caller's claims, so the policies on storage.objects decide;
 * the superuser path (service_role) where Storage uses `asSuperUser()`.
 */
import type { Database, Queryable, Row } from "../../../shared/db/database.ts";
import type { Caller } from "./auth.ts";
import { ERRORS, fromDatabaseError, StorageError } from "./errors.ts";
import { SUPERUSER } from "./auth.ts";

export interface Bucket {
  id: string;
  public: boolean;
  fileSizeLimit: number | null;
  allowedMimeTypes: string[] | null;
}

/** What Storage keeps in `storage.objects.metadata` (the backend's ObjectMetadata). */
export interface ObjectMetadata {
  eTag: string;
  size: number;
  mimetype: string;
  cacheControl: string;
  lastModified: string;
  contentLength: number;
  httpStatusCode: number;
}

export interface StoredObject {
  id: string;
  name: string;
  bucket_id: string;
  owner: string | null;
  owner_id: string | null;
  version: string | null;
  metadata: ObjectMetadata | null;
  user_metadata: Record<string, unknown> | null;
  created_at: string | null;
  updated_at: string | null;
  last_accessed_at: string | null;
}

export interface NewObject {
  bucketId: string;
  name: string;
  owner?: string;
  version: string;
  metadata: Partial<ObjectMetadata>;
  userMetadata?: Record<string, unknown>;
}

const OBJECT_COLUMNS =
  "id, name, bucket_id, owner, owner_id, version, metadata, user_metadata, created_at, updated_at, last_accessed_at";

/** An object's place: its bucket and name. */
export interface Place {
  bucketId: string;
  name: string;
}

export interface BucketRow {
  id: string;
  name: string;
  owner: string | null;
  public: boolean;
  type?: string;
  file_size_limit: number | null;
  allowed_mime_types: string[] | null;
  created_at: string | null;
  updated_at: string | null;
}

export interface BucketListOptions {
  limit?: number;
  offset?: number;
  sortColumn?: "id" | "name" | "created_at" | "updated_at";
  sortOrder?: "asc" | "desc";
  search?: string;
}

export interface SearchOptions {
  limit: number;
  offset: number;
  search: string;
  column: "name" | "updated_at" | "created_at" | "last_accessed_at";
  order?: "asc" | "desc";
}

/** A row of storage.objects as a listing answers it. */
export interface ListedObject {
  id: string;
  name: string;
  metadata: Record<string, unknown> | null;
  updated_at: string | null;
  created_at: string | null;
  last_accessed_at: string | null;
}

const BUCKET_COLUMNS = "id, name, owner, public, file_size_limit, allowed_mime_types, created_at, updated_at";

/** Storage's updateObject for a move: the owner only when the mover has one (a uuid for `owner`). */
const MOVE = `update storage.objects
    set name = $3, bucket_id = $4, version = $5,
        owner = coalesce($6::uuid, owner), owner_id = coalesce($7, owner_id)
  where name = $1 and bucket_id = $2`;
const MOVE_WITH_METADATA = MOVE.replace(
  "owner_id = coalesce($7, owner_id)",
  "$&, metadata = $8::text::jsonb",
);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const moveValues = (from: Place, to: Place & { version: string; owner?: string }) => [
  from.name,
  from.bucketId,
  to.name,
  to.bucketId,
  to.version,
  to.owner && UUID.test(to.owner) ? to.owner : null,
  to.owner ?? null,
];

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

export function createObjectStore(db: Database) {
  /** One transaction as `caller`, with Postgres errors mapped the way Storage maps them. */
  async function as<T>(caller: Caller, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    try {
      return await db.asRole(caller.role, caller.claims, fn);
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw fromDatabaseError(error) ?? error;
    }
  }

  const insertValues = (o: NewObject) => [
    o.bucketId,
    o.name,
    o.owner && UUID.test(o.owner) ? o.owner : null,
    o.owner ?? null,
    o.version,
    JSON.stringify(o.metadata),
    o.userMetadata === undefined ? null : JSON.stringify(o.userMetadata),
  ];
  const INSERT =
    `insert into storage.objects (bucket_id, name, owner, owner_id, version, metadata, user_metadata)
    values ($1, $2, $3::uuid, $4, $5, $6::text::jsonb, $7::text::jsonb)`;
  const UPSERT = `${INSERT}
    on conflict (name, bucket_id) do update set
      owner = excluded.owner, owner_id = excluded.owner_id, version = excluded.version,
      metadata = excluded.metadata, user_metadata = excluded.user_metadata, updated_at = now()`;

  return {
    async findBucket(id: string): Promise<Bucket | undefined> {
      const [row] = await as(SUPERUSER, (tx) =>
        tx.query<Row>(
          `select id, public, file_size_limit, allowed_mime_types from storage.buckets where id = $1`,
          [id],
        ));
      if (!row) return undefined;
      return {
        id: row.id as string,
        public: row.public === true,
        fileSizeLimit: row.file_size_limit === null ? null : Number(row.file_size_limit),
        allowedMimeTypes: (row.allowed_mime_types as string[] | null) ?? null,
      };
    },

    /** NoSuchKey unless `caller` may see the object. */
    async findObject(caller: Caller, bucketId: string, name: string): Promise<StoredObject> {
      const [row] = await as(caller, (tx) =>
        tx.query<StoredObject>(
          `select ${OBJECT_COLUMNS} from storage.objects where name = $1 and bucket_id = $2 limit 1`,
          [name, bucketId],
        ));
      if (!row) throw ERRORS.noSuchKey();
      return normalize(row);
    },

    /** The names among `names` that `caller` may see. */
    async visibleNames(caller: Caller, bucketId: string, names: string[]): Promise<Set<string>> {
      const rows = await as(caller, (tx) =>
        tx.query<{ name: string }>(
          `select name from storage.objects
            where bucket_id = $1 and name in (select jsonb_array_elements_text($2::text::jsonb))`,
          [bucketId, JSON.stringify(names)],
        ));
      return new Set(rows.map((r) => r.name));
    },

    /**
     * Storage's canUpload: the insert (or upsert) `caller` would make, in a
     * transaction that is always rolled back; row-level security, the
     * unique key and the bucket's foreign key answer.
     */
    async testUpload(caller: Caller, object: NewObject, upsert: boolean): Promise<void> {
      const rollback = new Error("test permission: roll back");
      try {
        await as(caller, async (tx) => {
          await tx.query(upsert ? UPSERT : INSERT, insertValues(object));
          throw rollback;
        });
      } catch (error) {
        if (error === rollback) return;
        if (error instanceof StorageError && error.code === "ResourceAlreadyExists") {
          throw ERRORS.keyAlreadyExists();
        }
        throw error;
      }
    },

    /**
     * Records an uploaded object (as the superuser, after the permission
     * test), answering its id and the version it replaced, if any.
     */
    async saveObject(object: NewObject, upsert: boolean): Promise<{ id: string; replaced?: string }> {
      try {
        return await as(SUPERUSER, async (tx) => {
          const [previous] = await tx.query<{ version: string | null }>(
            `select version from storage.objects where bucket_id = $1 and name = $2 for update`,
            [object.bucketId, object.name],
          );
          if (previous && !upsert) throw ERRORS.keyAlreadyExists();
          // As Storage's completeUpload: no user metadata is stored as `{}`.
          const [row] = await tx.query<{ id: string }>(
            `${upsert ? UPSERT : INSERT} returning id`,
            insertValues({ ...object, userMetadata: { ...object.userMetadata } }),
          );
          return { id: row.id, replaced: previous?.version ?? undefined };
        });
      } catch (error) {
        if (error instanceof StorageError && error.code === "ResourceAlreadyExists") {
          throw ERRORS.keyAlreadyExists();
        }
        throw error;
      }
    },

    /**
     * Storage's move permission test (ObjectStorage.moveObject): as `caller`,
     * SELECT the source, then UPDATE it to its new place, rolled back; the
     * policies (USING and WITH CHECK), the unique key and the triggers answer.
     */
    async testMove(caller: Caller, from: Place, to: Place & { version: string; owner?: string }) {
      const rollback = new Error("test permission: roll back");
      try {
        await as(caller, async (tx) => {
          const [found] = await tx.query(
            `select id from storage.objects where name = $1 and bucket_id = $2 limit 1`,
            [from.name, from.bucketId],
          );
          if (!found) throw ERRORS.noSuchKey();
          const [moved] = await tx.query(
            `${MOVE} returning id`,
            moveValues(from, to),
          );
          if (!moved) throw ERRORS.noSuchKey();
          throw rollback;
        });
      } catch (error) {
        if (error !== rollback) throw error;
      }
    },

    /** Moves the row (as the superuser, after the test), answering it and the version it had. */
    async moveObject(
      from: Place,
      to: Place & { version: string; owner?: string; metadata: Partial<ObjectMetadata> },
    ): Promise<{ object: StoredObject; previousVersion: string | null }> {
      return await as(SUPERUSER, async (tx) => {
        const [source] = await tx.query<{ version: string | null }>(
          `select version from storage.objects where name = $1 and bucket_id = $2 for update`,
          [from.name, from.bucketId],
        );
        if (!source) throw ERRORS.noSuchKey();
        const [row] = await tx.query<StoredObject>(
          `${MOVE_WITH_METADATA} returning ${OBJECT_COLUMNS}`,
          [...moveValues(from, to), JSON.stringify(to.metadata)],
        );
        return { object: normalize(row), previousVersion: source.version };
      });
    },

    /** The buckets `caller` may see (RLS on storage.buckets), as Storage's listBuckets selects them. */
    async listBuckets(caller: Caller, options: BucketListOptions): Promise<BucketRow[]> {
      const values: unknown[] = [];
      let sql = `select ${BUCKET_COLUMNS}, 'STANDARD' as type from storage.buckets`;
      if (options.search) {
        values.push(`%${escapeLike(options.search)}%`);
        sql += ` where name ilike $${values.length}`;
      }
      if (options.sortColumn) sql += ` order by "${options.sortColumn}" ${options.sortOrder ?? "asc"}`;
      if (options.limit !== undefined) sql += ` limit $${values.push(options.limit)}`;
      if (options.offset !== undefined) sql += ` offset $${values.push(options.offset)}`;
      const rows = await as(caller, (tx) => tx.query<BucketRow>(sql, values));
      return rows.map(normalizeBucket);
    },

    /** NoSuchBucket unless `caller` may see the bucket. */
    async getBucket(caller: Caller, id: string): Promise<BucketRow> {
      const [row] = await as(
        caller,
        (tx) =>
          tx.query<BucketRow>(`select ${BUCKET_COLUMNS} from storage.buckets where id = $1 limit 1`, [id]),
      );
      if (!row) throw ERRORS.noSuchBucket();
      return normalizeBucket(row);
    },

    /**
     * One level of a folder, as Storage's storage.search() answers it, run as
     * `caller` so that RLS decides: the folders under `prefix` (id and
     * timestamps null) and its files, their names relative to `prefix`, the
     * match on `prefix + search` case-insensitive.
     */
    async searchFolder(caller: Caller, bucketId: string, prefix: string, options: SearchOptions) {
      const descending = options.order === "desc" ? "desc" : "asc";
      const order = options.column === "name"
        ? `lower(case when kind = 0 then name || '/' else name end) collate "C" ${descending}`
        : `kind, (case when kind = 0 then name end) collate "C" ${descending}, ${options.column} ${descending}, name collate "C"`;
      const rows = await as(caller, (tx) =>
        tx.query<Row>(
          `with matched as (
             select name, id, updated_at, created_at, last_accessed_at, metadata,
                    substr(name, length($2) + 1) as rest
               from storage.objects
              where bucket_id = $1 and lower(left(name, length($2 || $3))) = lower($2 || $3)
           ), entries as (
             select split_part(rest, '/', 1) as name, null::uuid as id, null::timestamptz as updated_at,
                    null::timestamptz as created_at, null::timestamptz as last_accessed_at,
                    null::jsonb as metadata, 0 as kind
               from matched where strpos(rest, '/') > 0 group by 1
             union all
             select rest, id, updated_at, created_at, last_accessed_at, metadata, 1
               from matched where strpos(rest, '/') = 0
           )
           select name, id, updated_at, created_at, last_accessed_at, metadata from entries
            order by ${order} limit $4 offset $5`,
          [bucketId, prefix, options.search, options.limit, options.offset],
        ));
      return rows.map((row) => ({
        name: row.name as string,
        id: (row.id as string | null) ?? null,
        updated_at: iso(row.updated_at),
        created_at: iso(row.created_at),
        last_accessed_at: iso(row.last_accessed_at),
        metadata: jsonb(row.metadata) as ListedObject["metadata"],
      }));
    },

    /** Every object under `prefix` (case-sensitive) that `caller` may see, by name in byte order. */
    async objectsUnder(caller: Caller, bucketId: string, prefix: string): Promise<ListedObject[]> {
      const rows = await as(caller, (tx) =>
        tx.query<Row>(
          `select id, name, metadata, updated_at, created_at, last_accessed_at from storage.objects
            where bucket_id = $1 and left(name, length($2)) = $2
            order by name collate "C"`,
          [bucketId, prefix],
        ));
      return rows.map((row) => ({
        id: row.id as string,
        name: row.name as string,
        metadata: jsonb(row.metadata) as ListedObject["metadata"],
        updated_at: iso(row.updated_at),
        created_at: iso(row.created_at),
        last_accessed_at: iso(row.last_accessed_at),
      }));
    },

    /** Deletes what `caller` may delete among `names`; answers the deleted rows. */
    async deleteObjects(caller: Caller, bucketId: string, names: string[]): Promise<StoredObject[]> {
      const rows = await as(caller, (tx) =>
        tx.query<StoredObject>(
          `delete from storage.objects
            where bucket_id = $1 and name in (select jsonb_array_elements_text($2::text::jsonb))
           returning ${OBJECT_COLUMNS}`,
          [bucketId, JSON.stringify(names)],
        ));
      return rows.map(normalize);
    },
  };
}

export type ObjectStore = ReturnType<typeof createObjectStore>;

const iso = (value: unknown): string | null =>
  value === null || value === undefined ? null : new Date(value as string | Date).toISOString();

/** As Storage's bucket schema renders it: a missing owner as "", the limit as a number. */
function normalizeBucket(row: BucketRow): BucketRow {
  return {
    id: row.id,
    name: row.name,
    owner: row.owner ?? "",
    public: row.public === true,
    ...(row.type === undefined ? {} : { type: row.type }),
    file_size_limit: row.file_size_limit === null ? null : Number(row.file_size_limit),
    allowed_mime_types: row.allowed_mime_types ?? null,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

/** A jsonb value as an object, whichever driver answered (text or parsed). */
const jsonb = (value: unknown): unknown => (typeof value === "string" ? JSON.parse(value) : value ?? null);

/** Timestamps as ISO strings, jsonb as objects, whichever driver answered. */
function normalize(row: StoredObject): StoredObject {
  return {
    ...row,
    metadata: jsonb(row.metadata) as StoredObject["metadata"],
    user_metadata: jsonb(row.user_metadata) as StoredObject["user_metadata"],
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    last_accessed_at: iso(row.last_accessed_at),
  };
}
