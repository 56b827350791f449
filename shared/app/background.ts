/**
 * Work that must finish after the answer has left. Supabase's Edge Runtime
 * ends a request's pending promises unless they are handed to
 * `EdgeRuntime.waitUntil`; elsewhere the promise simply runs on.
 */
interface EdgeRuntimeGlobal {
  EdgeRuntime?: { waitUntil(promise: Promise<unknown>): void };
}

export function runInBackground(promise: Promise<unknown>): void {
  (globalThis as EdgeRuntimeGlobal).EdgeRuntime?.waitUntil(promise);
}
