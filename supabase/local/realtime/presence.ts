/**
 * Presence as Phoenix.Presence keeps it: per topic, per presence key, the
 * metas of every channel that tracks that key, each with a unique `phx_ref`
 * (and `phx_ref_prev` after an update). Changes come out as diffs
 * `{ joins, leaves }`, grouped by key as `{ [key]: { metas: [...] } }`;
 * phoenix.js (inside realtime-js) folds them into its state.
 */
import { encodeBase64Url } from "../base64.ts";

export type PresenceMeta = Record<string, unknown> & { phx_ref: string; phx_ref_prev?: string };
export type PresenceState = Record<string, { metas: PresenceMeta[] }>;
export interface PresenceDiff {
  joins: PresenceState;
  leaves: PresenceState;
}

interface Entry {
  key: string;
  meta: PresenceMeta;
  /** The tracked payload as JSON, to recognise a track that changes nothing. */
  payloadJson: string;
}

/** Whoever tracks: a joined channel (one entry per topic each, as a Phoenix channel process). */
export type Holder = object;

export class PresenceTracker {
  #topics = new Map<string, Map<Holder, Entry>>();

  /** Tracks or updates `holder`'s presence; undefined when nothing changed. */
  track(
    topic: string,
    holder: Holder,
    key: string,
    payload: Record<string, unknown>,
  ): PresenceDiff | undefined {
    const entries = this.#topics.get(topic) ?? new Map<Holder, Entry>();
    this.#topics.set(topic, entries);
    const payloadJson = JSON.stringify(payload);
    const previous = entries.get(holder);
    if (previous && previous.key === key && previous.payloadJson === payloadJson) return undefined;
    const meta: PresenceMeta = { ...payload, phx_ref: newRef() };
    if (previous) meta.phx_ref_prev = previous.meta.phx_ref;
    entries.set(holder, { key, meta, payloadJson });
    return {
      joins: group([{ key, meta }]),
      leaves: previous ? group([previous]) : {},
    };
  }

  /** Removes `holder`'s presence; undefined when it had none. */
  untrack(topic: string, holder: Holder): PresenceDiff | undefined {
    const entries = this.#topics.get(topic);
    const previous = entries?.get(holder);
    if (!entries || !previous) return undefined;
    entries.delete(holder);
    if (entries.size === 0) this.#topics.delete(topic);
    return { joins: {}, leaves: group([previous]) };
  }

  list(topic: string): PresenceState {
    return group([...(this.#topics.get(topic)?.values() ?? [])]);
  }
}

function group(entries: Array<{ key: string; meta: PresenceMeta }>): PresenceState {
  const state: PresenceState = {};
  for (const { key, meta } of entries) {
    if (!Object.hasOwn(state, key)) {
      Object.defineProperty(state, key, { value: { metas: [] }, enumerable: true, writable: true });
    }
    state[key].metas.push(meta);
  }
  return state;
}

/** A unique reference, like the random ones Phoenix.Tracker gives (`F-...`). */
function newRef(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return "F" + encodeBase64Url(bytes);
}
