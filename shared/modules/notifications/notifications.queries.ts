/**
 * SQL of the notifications module, as the caller: RLS shows and deletes each
 * user's own subscriptions only.
 */
import { iso } from "../../app/fields.ts";
import type { Queryable } from "../../db/database.ts";

export interface SubscriptionRow {
  id: string;
  endpoint: string;
  created_at: Date;
  last_sent_at: Date | null;
}

const SUBSCRIPTION_COLUMNS = "s.id, s.endpoint, s.created_at, s.last_sent_at";

export function toSubscription(row: SubscriptionRow) {
  return {
    id: row.id,
    endpoint: row.endpoint,
    createdAt: iso(row.created_at),
    lastSentAt: row.last_sent_at ? iso(row.last_sent_at) : null,
  };
}

export async function listSubscriptions(tx: Queryable): Promise<SubscriptionRow[]> {
  return await tx.query<SubscriptionRow>(
    `select ${SUBSCRIPTION_COLUMNS} from public.push_subscriptions s order by s.created_at, s.id`,
  );
}

export async function saveSubscription(
  tx: Queryable,
  s: { endpoint: string; p256dh: string; auth: string },
): Promise<SubscriptionRow> {
  const [{ id }] = await tx.query<{ id: string }>("select app.save_push_subscription($1, $2, $3) as id", [
    s.endpoint,
    s.p256dh,
    s.auth,
  ]);
  // A statement of its own: the one that saved it does not see the row yet.
  const [row] = await tx.query<SubscriptionRow>(
    `select ${SUBSCRIPTION_COLUMNS} from public.push_subscriptions s where s.id = $1`,
    [id],
  );
  return row;
}

export async function deleteSubscription(tx: Queryable, id: string): Promise<boolean> {
  const rows = await tx.query("delete from public.push_subscriptions s where s.id = $1 returning s.id", [id]);
  return rows.length > 0;
}
