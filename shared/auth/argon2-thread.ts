/**
 * Argon2id off the event loop where a worker thread can run it. A hash holds
 * the CPU for tens of milliseconds of synchronous WebAssembly; on the thread
 * that serves requests it stalls every other request for that long
 * (bench/results.md, the mix). One worker thread (node:worker_threads: Deno
 * has it, and unlike a Web Worker it can be unref'd, so an idle worker never
 * keeps a process alive) runs the jobs in turn.
 *
 * Supabase's Edge Runtime has no Worker (neither node:worker_threads' nor the
 * Web's), so there (shared/auth/argon2-mode.ts), with ARGON2_THREAD=off, where no
 * worker starts, or if it dies, the jobs run on this thread instead: one at a
 * time, the event loop served between two, and the hash's WebAssembly memory
 * released after each (shared/auth/argon2-memory.ts). Eight sign-ins at once
 * then cost one hash's memory, not eight, and every other request waits for
 * at most one hash.
 */
import type { Worker } from "node:worker_threads";
import { type Argon2Job, runArgon2 } from "./argon2.ts";
import { releaseWasmMemory } from "./argon2-memory.ts";
import { argon2ThreadWanted } from "./argon2-mode.ts";

interface Pending {
  job: Argon2Job;
  resolve(answer: Argon2Answer): void;
  reject(error: unknown): void;
}

export interface Argon2Answer {
  result: string | boolean;
  /** The thread that ran the job (0: this, the main thread). */
  threadId: number;
}

let worker: Promise<Worker | undefined> | undefined;
let unavailable = false;
let nextId = 0;
const pending = new Map<number, Pending>();

const here: Pending[] = [];
let draining = false;

function runHere(job: Argon2Job): Promise<Argon2Answer> {
  return new Promise((resolve, reject) => {
    here.push({ job, resolve, reject });
    if (!draining) drainHere();
  });
}

async function drainHere() {
  draining = true;
  while (here.length) {
    const { job, resolve, reject } = here.shift()!;
    await runArgon2(job).then((result) => resolve({ result, threadId: 0 }), reject);
    await releaseWasmMemory("minor");
    // A macrotask between two hashes: the requests that waited run first.
    await new Promise((next) => setTimeout(next, 0));
  }
  draining = false;
}

/** The worker gave up: what it still had runs here. */
function retire(current: Worker) {
  unavailable = true;
  worker = undefined;
  const left = [...pending.values()];
  pending.clear();
  for (const { job, resolve, reject } of left) runHere(job).then(resolve, reject);
  current.removeAllListeners();
}

async function startWorker(): Promise<Worker | undefined> {
  try {
    const { Worker } = await import("node:worker_threads");
    const started = new Worker(new URL("./argon2.worker.ts", import.meta.url));
    started.unref();
    started.on(
      "message",
      (message: { id: number; result?: string | boolean; failed?: boolean; threadId: number }) => {
        const waiting = pending.get(message.id);
        if (!waiting) return;
        pending.delete(message.id);
        if (pending.size === 0) started.unref();
        if (message.failed) runHere(waiting.job).then(waiting.resolve, waiting.reject);
        else waiting.resolve({ result: message.result!, threadId: message.threadId });
      },
    );
    started.on("error", () => retire(started));
    started.on("exit", () => retire(started));
    return started;
  } catch {
    unavailable = true;
    return undefined;
  }
}

export async function runArgon2OffThread(job: Argon2Job): Promise<Argon2Answer> {
  if (!argon2ThreadWanted() || unavailable) return await runHere(job);
  worker ??= startWorker();
  const thread = await worker;
  if (!thread) return await runHere(job);
  return await new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { job, resolve, reject });
    // Referenced while a job is out, so that a script awaiting it does not exit first.
    thread.ref();
    thread.postMessage({ id, job });
  });
}
