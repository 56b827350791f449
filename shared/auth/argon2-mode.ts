/**
 * Where Argon2id runs: on a worker thread unless configuration says
 * ARGON2_THREAD=off or the runtime has none (Supabase's Edge Runtime, known
 * by its global EdgeRuntime). Apart from shared/auth/argon2-thread.ts so that
 * createDeps sets it without importing hash-wasm into every function.
 */
const edgeRuntime = "EdgeRuntime" in globalThis;
let enabled = !edgeRuntime;

export function setArgon2Thread(wanted: boolean) {
  enabled = wanted && !edgeRuntime;
}

export function argon2ThreadWanted(): boolean {
  return enabled;
}
