/** The worker thread of shared/auth/argon2-thread.ts: runs each Argon2id job it is sent. */
import { parentPort, threadId } from "node:worker_threads";
import { type Argon2Job, runArgon2 } from "./argon2.ts";

parentPort?.on("message", async ({ id, job }: { id: number; job: Argon2Job }) => {
  try {
    parentPort!.postMessage({ id, result: await runArgon2(job), threadId });
  } catch {
    parentPort!.postMessage({ id, failed: true, threadId });
  }
});
