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
 * Notifications are handled in arrival (commit) order, one query per batch.
 * A rolled-back transaction notifies nothing, so nothing is sent.
 */
import { describeError, type Logger } from "../../../shared/app/logger.ts";
import type { Database } from "../../../shared/db/database.ts";
import type { UserBroadcast } from "./protocol.ts";

export const NOTIFY_CHANNEL = "realtime_local_broadcast";
const BATCH = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
}

export interface DatabaseBroadcasts {
  stop(): Promise<void>;
}

export async function listenForDatabaseBroadcasts(
  db: Database,
  deliver: (broadcast: DatabaseBroadcast) => void,
  logger: Logger,
): Promise<DatabaseBroadcasts> {
  const pending: string[] = [];
  let draining: Promise<void> | undefined;
  let stopped = false;

  async function drain() {
    while (pending.length > 0 && !stopped) {
      const ids = pending.splice(0, BATCH);
      try {
        const rows = await db.queryAsOwner<Row>(
          `select id::text as id, topic, event, payload::text as payload, private
             from realtime.messages where id = any($1::text[]::uuid[])`,
          [`{${ids.join(",")}}`],
        );
        const byId = new Map(rows.map((row) => [row.id, row]));
        for (const id of ids) {
          const row = byId.get(id);
          if (row) send(row);
          else logger.warn("realtime: notified message not found", { id });
        }
      } catch (error) {
        if (!stopped) {
          logger.error("realtime: database broadcasts lost", { count: ids.length, ...describeError(error) });
        }
      }
    }
  }

  function schedule() {
    if (draining || stopped) return;
    draining = drain().finally(() => {
      draining = undefined;
      if (pending.length > 0) schedule(); // ids that arrived as the last batch finished
    });
  }

  function send(row: Row) {
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

  const unlisten = await db.listen(NOTIFY_CHANNEL, (id) => {
    if (stopped || !UUID.test(id)) return;
    pending.push(id.toLowerCase());
    schedule();
  });

  return {
    async stop() {
      await draining;
      stopped = true;
      await unlisten();
    },
  };
}
