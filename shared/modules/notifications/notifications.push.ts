/**
 * Sends the recorded pushes (private.push_deliveries), after the changes that
 * recorded them committed: claims a batch in a transaction of its own, calls
 * the push services with no transaction open, then records what came of each
 * in another. A subscription the push service no longer knows (404, 410)
 * goes with its pushes; a failure is tried again by a later run.
 */
import { endpointAllowed } from "../../adapters/push/endpoint.ts";
import { createPushSender, type PushSender } from "../../adapters/push/web-push.ts";
import type { PushConfig } from "../../config.ts";
import type { Deps } from "../../app/types.ts";
import { claimPushDeliveries, finishPushDeliveries, type PushDelivery } from "./notifications.privileged.ts";

/** Pushes per run, and at once: a run stays well inside a function's time limit. */
const BATCH = 200;
const CONCURRENCY = 8;
/** An offline device gets a notification within the hour, or not at all. */
const TTL_SECONDS = 3600;

const senders = new WeakMap<PushConfig, PushSender>();

export function pushSenderFor(config: PushConfig): PushSender {
  let sender = senders.get(config);
  if (!sender) senders.set(config, sender = createPushSender(config));
  return sender;
}

export interface PushRun {
  sent: number;
  gone: number;
  failed: number;
}

export async function sendPendingPushes(
  deps: Deps,
  sender = pushSenderFor(deps.config.push),
): Promise<PushRun> {
  if (!sender.configured) return { sent: 0, gone: 0, failed: 0 };
  const batch = await claimPushDeliveries(deps.db, BATCH);
  const sent: string[] = [];
  const retry: string[] = [];
  const gone = new Set<string>();
  const queue = [...batch];
  const worker = async () => {
    for (let d = queue.shift(); d; d = queue.shift()) {
      const outcome = await deliver(deps, sender, d);
      if (outcome === "delivered") sent.push(d.id);
      else if (outcome === "gone") gone.add(d.subscription_id);
      else retry.push(d.id);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  if (batch.length > 0) await finishPushDeliveries(deps.db, { sent, retry, gone: [...gone] });
  const run = { sent: sent.length, gone: gone.size, failed: retry.length };
  if (batch.length > 0) deps.logger.child({ function: "push" }).info("pushes", { ...run });
  return run;
}

function deliver(deps: Deps, sender: PushSender, d: PushDelivery) {
  // Saved under another configuration (or before a rule tightened): never called.
  if (!endpointAllowed(d.endpoint, deps.config.push)) return Promise.resolve("gone" as const);
  return sender.send(
    { endpoint: d.endpoint, keys: { p256dh: d.p256dh, auth: d.auth } },
    JSON.stringify(d.payload),
    { urgency: d.urgency, ttlSeconds: TTL_SECONDS },
  );
}
