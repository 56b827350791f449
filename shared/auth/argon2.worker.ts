/** The worker thread of shared/auth/argon2-thread.ts: runs each Argon2id job it is sent. */
import { parentPort, threadId } from "node:worker_threads";
import { type Argon2Job, runArgon2 } from "./argon2.ts";
import { releaseWasmMemory } from "./argon2-memory.ts";

/**
 * This thread allocates almost nothing but hash-wasm's memories, so V8 seldom
 * collects on its own: a minor collection every 8 jobs keeps the process near
 * 300 MiB under `deno task load` (one after every job kept it lower but cost
 * 15% of the mix's throughput).
 */
let jobs = 0;
parentPort?.on("message", async ({ id, job }: { id: number; job: Argon2Job }) => {
  try {
    parentPort!.postMessage({ id, result: await runArgon2(job), threadId });
  } catch {
    parentPort!.postMessage({ id, failed: true, threadId });
  } finally {
    if (++jobs % 8 === 0) await releaseWasmMemory("minor");
  }
});
