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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
          const [row] = await tx.query<{ id: string }>(
            `${upsert ? UPSERT : INSERT} returning id`,
            insertValues(object),
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

/** Timestamps as ISO strings, jsonb as objects, whichever driver answered. */
function normalize(row: StoredObject): StoredObject {
  const json = (v: unknown) => (typeof v === "string" ? JSON.parse(v) : v ?? null);
  return {
    ...row,
    metadata: json(row.metadata),
    user_metadata: json(row.user_metadata),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    last_accessed_at: iso(row.last_accessed_at),
  };
}
