/**
 * Argon2id off the event loop. A hash holds the CPU for tens of milliseconds
 * of synchronous WebAssembly; on the thread that serves requests it would
 * stall every other request for that long (bench/results.md, the mix). One
 * worker thread (node:worker_threads: Deno has it, and unlike a Web Worker
 * it can be unref'd, so an idle worker never keeps a process alive) runs the
 * jobs in turn. Where no worker can start (a runtime without worker threads),
 * or if it dies, the jobs run on this thread instead: slower, never lost.
 */
import { Worker } from "node:worker_threads";
import { type Argon2Job, runArgon2 } from "./argon2.ts";

interface Pending {
  job: Argon2Job;
  resolve(answer: Argon2Answer): void;
}

export interface Argon2Answer {
  result: string | boolean;
  /** The thread that ran the job (0: this, the main thread). */
  threadId: number;
}

let worker: Worker | undefined;
let unavailable = false;
let nextId = 0;
const pending = new Map<number, Pending>();

function runHere(job: Argon2Job): Promise<Argon2Answer> {
  return runArgon2(job).then((result) => ({ result, threadId: 0 }));
}

/** The worker gave up: what it still had runs here. */
function retire(current: Worker) {
  if (worker !== current) return;
  worker = undefined;
  unavailable = true;
  const left = [...pending.values()];
  pending.clear();
  for (const { job, resolve } of left) runHere(job).then(resolve);
}

function startWorker(): Worker | undefined {
  if (worker || unavailable) return worker;
  try {
    const started = new Worker(new URL("./argon2.worker.ts", import.meta.url));
    started.unref();
    started.on(
      "message",
      (message: { id: number; result?: string | boolean; failed?: boolean; threadId: number }) => {
        const waiting = pending.get(message.id);
        if (!waiting) return;
        pending.delete(message.id);
        if (pending.size === 0) started.unref();
        if (message.failed) runHere(waiting.job).then(waiting.resolve);
        else waiting.resolve({ result: message.result!, threadId: message.threadId });
      },
    );
    started.on("error", () => retire(started));
    started.on("exit", () => retire(started));
    worker = started;
  } catch {
    unavailable = true;
  }
  return worker;
}

export function runArgon2OffThread(job: Argon2Job): Promise<Argon2Answer> {
  const thread = startWorker();
  if (!thread) return runHere(job);
  return new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, { job, resolve });
    // Referenced while a job is out, so that a script awaiting it does not exit first.
    thread.ref();
    thread.postMessage({ id, job });
  });
}
