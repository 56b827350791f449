/**
 * The push function's SQL, as service_role: claiming recorded pushes and
 * recording what came of them, each in a transaction of its own.
 */
import type { Database } from "../../db/database.ts";

export interface PushDelivery {
  id: string;
  subscription_id: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  payload: unknown;
  urgency: "normal" | "high";
}

/** Claims pushes to send, in a transaction of its own that commits before any is sent. */
export async function claimPushDeliveries(db: Database, limit: number): Promise<PushDelivery[]> {
  return await db.asService((tx) =>
    tx.query<PushDelivery>("select * from app.claim_push_deliveries($1)", [limit])
  );
}

export async function finishPushDeliveries(
  db: Database,
  outcome: { sent: string[]; retry: string[]; gone: string[] },
): Promise<void> {
  await db.asService((tx) =>
    tx.query("select app.finish_push_deliveries($1::bigint[], $2::bigint[], $3::uuid[])", [
      outcome.sent,
      outcome.retry,
      outcome.gone,
    ])
  );
}
