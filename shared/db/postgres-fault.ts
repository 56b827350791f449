/**
 * Survives a known postgres.js 3.4.9 fault (porsager/postgres#1154, #1208,
 * unfixed in any release; denoland/deno#34667): a write it queued with
 * setImmediate can run after the server closed the connection and its
 * socket was set to null. The TypeError is thrown from the immediate, where
 * no caller can catch it, and ends the process: seen here on every
 * PostgreSQL restart under a stream of writes. The connection is left with
 * its write queue jammed, so every later write on it waits forever.
 *
 * So that exact error is stopped here, and every postgres.js instance
 * registered here is replaced by a fresh one (its queries in flight fail as
 * any query during an outage does).
 */

const resets = new Set<() => void>();
let installed = false;

function isNullSocketWrite(error: unknown): boolean {
  return error instanceof TypeError && error.message.includes("reading 'write'") &&
    (error.stack ?? "").includes("nextWrite") && (error.stack ?? "").includes("postgres");
}

/** Calls `reset` after the fault (on any instance: which one is not known); answers the unregistration. */
export function onPostgresDriverFault(reset: () => void): () => void {
  if (!installed && typeof globalThis.addEventListener === "function") {
    installed = true;
    globalThis.addEventListener("error", (event) => {
      if (!isNullSocketWrite(event.error)) return;
      event.preventDefault();
      for (const fn of resets) fn();
    });
  }
  resets.add(reset);
  return () => resets.delete(reset);
}
