/**
 * Broadcasts from the database: `realtime.send(payload, event, topic, private)`
 * inserts into realtime.messages. Supabase Realtime reads those inserts by
 * logical replication, so it sees them only once their transaction has
 * committed (realtime lib/realtime/tenants/replication_connection.ex). Here
 * the local trigger `realtime.local_notify_broadcast` NOTIFYs the row's id,
 * which PostgreSQL (and PGlite) deliver only on commit; the row is then read
 * as the owner and fanned out to its topic, private rows to private channels
 * and public rows to public ones, with `meta: { id }` as Supabase sends it.
 *
 * Nothing committed is lost while the stand-in runs. A NOTIFY sent while the
 * LISTEN connection is down (PostgreSQL restarting) is gone, so each time
 * the LISTEN comes back, and after a failed read, the rows are read again by
 * position: every row inserted from CATCH_UP_MARGIN before the newest one
 * delivered, less those already delivered. The margin covers a transaction
 * that began (inserted_at is its start, `now()`) before that row and
 * committed after it. Rows older than the janitor's retention are dropped
 * with their partition, as on Supabase.
 *
 * This is more than Supabase's Realtime does: its slot is TEMPORARY and is
 * made again at the current position when the replication connection comes
 * back (replication_connection.ex, tenants/connect.ex "recovery window"), so
 * a row committed while it was down is never broadcast; a client catches up
 * from the API (README, "Catching up after a lost connection"), or from
 * realtime.messages with a private channel's `broadcast.replay`.
 *
 * Notifications are handled in arrival (commit) order, one query per batch.
 * A rolled-back transaction notifies nothing, so nothing is sent.
 */
import { describeError, type Logger } from "../../../shared/app/logger.ts";
import type { Database } from "../../../shared/db/database.ts";
import type { UserBroadcast } from "./protocol.ts";

export const NOTIFY_CHANNEL = "realtime_local_broadcast";
const BATCH = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Longer than any transaction that sends: the product's run in milliseconds. */
export const CATCH_UP_MARGIN_MS = 60_000;
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 2_000;

export interface DatabaseBroadcast {
  topic: string;
  isPrivate: boolean;
  message: UserBroadcast;
}

interface Row {
  id: string;
  topic: string;
  event: string | null;
  payload: string | null;
  private: boolean | null;
  /** inserted_at in microseconds since the epoch, as text (bigint). */
  at: string;
}

export interface DatabaseBroadcasts {
  stop(): Promise<void>;
}

const COLUMNS = `id::text as id, topic, event, payload::text as payload, private,
  (extract(epoch from inserted_at) * 1000000)::bigint::text as at`;

export async function listenForDatabaseBroadcasts(
  db: Database,
  deliver: (broadcast: DatabaseBroadcast) => void,
  logger: Logger,
): Promise<DatabaseBroadcasts> {
  const pending: string[] = [];
  /** Ids delivered, with their inserted_at (µs), back to the catch-up's lower bound. */
  const delivered = new Map<string, number>();
  /** The newest inserted_at delivered, or the server's clock when the LISTEN was last set (µs). */
  let position: number | undefined;
  let catchUp = false;
  let retryMs = RETRY_FIRST_MS;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let draining: Promise<void> | undefined;
  let stopped = false;

  async function readNotified(ids: string[]) {
    const rows = await db.queryAsOwner<Row>(
      `select ${COLUMNS} from realtime.messages where id = any($1::text[]::uuid[])`,
      [`{${ids.join(",")}}`],
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    for (const id of ids) {
      const row = byId.get(id);
      if (row) send(row);
      else if (!delivered.has(id)) logger.warn("realtime: notified message not found", { id });
    }
  }

  /** Every row past the position (less the margin) not yet delivered; moves the position to now. */
  async function readSincePosition() {
    const [{ now }] = await db.queryAsOwner<{ now: string }>(
      "select (extract(epoch from now()::timestamp) * 1000000)::bigint::text as now",
    );
    if (position !== undefined) {
      const rows = await db.queryAsOwner<Row>(
        `select ${COLUMNS} from realtime.messages
          where inserted_at >= to_timestamp($1::bigint / 1000000.0)::timestamptz at time zone 'UTC'
            and inserted_at <= to_timestamp($2::bigint / 1000000.0)::timestamptz at time zone 'UTC'
          order by inserted_at, id`,
        [String(position - CATCH_UP_MARGIN_MS * 1000), now],
      );
      const fresh = rows.filter((row) => !delivered.has(row.id));
      if (fresh.length > 0) logger.info("realtime: database broadcasts caught up", { count: fresh.length });
      for (const row of fresh) send(row);
    }
    position = Math.max(position ?? 0, Number(now));
    prune();
  }

  async function drain() {
    while (!stopped && (catchUp || pending.length > 0)) {
      const ids = catchUp ? [] : pending.splice(0, BATCH);
      try {
        if (catchUp) {
          catchUp = false;
          await readSincePosition();
        } else {
          await readNotified(ids);
        }
        retryMs = RETRY_FIRST_MS;
      } catch (error) {
        if (stopped) return;
        // The rows are still in the table: read them by position once the database answers.
        logger.warn("realtime: cannot read database broadcasts, will catch up", {
          ids: ids.length,
          ...describeError(error),
        });
        retryLater();
        return;
      }
    }
  }

  function retryLater() {
    if (retryTimer !== undefined || stopped) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      catchUp = true;
      schedule();
    }, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  }

  function schedule() {
    if (draining || stopped) return;
    draining = drain().finally(() => {
      draining = undefined;
      if (!stopped && retryTimer === undefined && (catchUp || pending.length > 0)) schedule();
    });
  }

  function prune() {
    if (position === undefined) return;
    const bound = position - 2 * CATCH_UP_MARGIN_MS * 1000;
    for (const [id, at] of delivered) if (at < bound) delivered.delete(id);
  }

  function send(row: Row) {
    if (delivered.has(row.id)) return;
    const at = Number(row.at);
    delivered.set(row.id, at);
    if (position === undefined || at > position) position = at;
    // Like replication_connection.ex: a row without an event or a payload is not broadcast.
    if (row.event === null || row.payload === null) {
      logger.warn("realtime: database message without event or payload skipped", { id: row.id });
      return;
    }
    deliver({
      topic: row.topic,
      isPrivate: row.private !== false,
      message: {
        event: row.event,
        encoding: "json",
        body: new TextEncoder().encode(row.payload),
        meta: { id: row.id },
      },
    });
  }

  const unlisten = await db.listen(
    NOTIFY_CHANNEL,
    (id) => {
      if (stopped || !UUID.test(id)) return;
      pending.push(id.toLowerCase());
      schedule();
    },
    () => {
      // First: only the position (now) is taken. Again: what was notified while away is read.
      catchUp = true;
      schedule();
    },
  );

  return {
    async stop() {
      await draining;
      stopped = true;
      clearTimeout(retryTimer);
      await unlisten();
    },
  };
}
