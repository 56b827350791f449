/**
 * realtime.messages is partitioned by day on inserted_at (UTC), as Supabase's
 * Realtime creates it. Realtime itself keeps the partitions: when it connects
 * to a project and then from its janitor it creates one for each day from
 * yesterday to three days ahead, owned by supabase_realtime_admin, and drops
 * those of days more than 72 hours ago (realtime lib/realtime/tenants.ex,
 * lib/realtime/messages.ex). Without a partition for today an insert fails,
 * which realtime.send turns into a warning: nothing is broadcast. The local
 * stand-in does the same at start and then every hour.
 */
import { describeError, type Logger } from "../../../shared/app/logger.ts";
import type { Database } from "../../../shared/db/database.ts";

const DAY_MS = 86_400_000;
const AHEAD_DAYS = 3;
const KEEP_MS = 72 * 3_600_000;
/** Two creators of one partition at once: the loser's error is a duplicate. */
const DUPLICATE = new Set(["42P07", "23505"]);

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const partitionName = (date: string) => `messages_${date.replaceAll("-", "_")}`;

/** Creates the partitions from yesterday to three days ahead of `now`, and drops the expired ones. */
export async function maintainMessagePartitions(db: Database, now = new Date()): Promise<void> {
  const today = Date.parse(day(now.getTime()));
  for (let offset = -1; offset <= AHEAD_DAYS; offset++) {
    const from = day(today + offset * DAY_MS);
    const name = partitionName(from);
    try {
      await db.execScript(
        `create table if not exists realtime.${name} partition of realtime.messages
           for values from ('${from}') to ('${day(today + (offset + 1) * DAY_MS)}');
         alter table realtime.${name} owner to supabase_realtime_admin;`,
      );
    } catch (error) {
      if (!DUPLICATE.has((error as { code?: string }).code ?? "")) throw error;
    }
  }
  const oldest = partitionName(day(now.getTime() - KEEP_MS));
  const expired = await db.queryAsOwner<{ name: string }>(
    `select c.relname as name
       from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'realtime.messages'::regclass
        and c.relname ~ '^messages_\\d{4}_\\d{2}_\\d{2}$' and c.relname < $1`,
    [oldest],
  );
  for (const { name } of expired) await db.execScript(`drop table if exists realtime.${name}`);
}

/** The janitor: keeps the partitions every `everyMs` until stopped. */
export function startPartitionJanitor(db: Database, logger: Logger, everyMs = 3_600_000): () => void {
  const timer = setInterval(() => {
    maintainMessagePartitions(db).catch((error) =>
      logger.error("realtime: cannot maintain the realtime.messages partitions", describeError(error))
    );
  }, everyMs);
  return () => clearInterval(timer);
}
