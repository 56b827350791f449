/** The worker thread of shared/auth/argon2-thread.ts: runs each Argon2id job it is sent. */
import v8 from "node:v8";
import vm from "node:vm";
import { parentPort, threadId } from "node:worker_threads";
import { type Argon2Job, runArgon2 } from "./argon2.ts";

/**
 * hash-wasm gives every hash a WebAssembly memory of its own (19 MiB), freed
 * only by a garbage collection. This thread allocates almost nothing else, so
 * V8 seldom collects: under `deno task load` the process grew past 1 GiB.
 * A minor collection every 8 jobs keeps it near 300 MiB (a collection after
 * every job kept it lower but cost 15% of the mix's throughput).
 */
const collect = (() => {
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as (options?: { type: "minor" | "major" }) => void;
    return () => gc({ type: "minor" });
  } catch {
    return () => {};
  }
})();

let jobs = 0;
parentPort?.on("message", async ({ id, job }: { id: number; job: Argon2Job }) => {
  try {
    parentPort!.postMessage({ id, result: await runArgon2(job), threadId });
  } catch {
    parentPort!.postMessage({ id, failed: true, threadId });
  } finally {
    if (++jobs % 8 === 0) collect();
  }
});
