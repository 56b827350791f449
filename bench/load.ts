/**
 * `deno task load`: the realistic mix of bench/mix.ts from 1, 8 and 32
 * concurrent clients (--connections=1,8,32), --duration seconds each, then an
 * optional soak (--soak seconds at the largest count, in windows of 10 s) that
 * reports memory per window. On a throwaway PostgreSQL server (or
 * DATABASE_URL's). Exits non-zero on any error, lost or duplicated message.
 * --argon2-thread=off hashes passwords on the requests' thread, as on
 * Supabase's Edge Runtime, which has no worker threads.
 */
import { parseArgs } from "node:util";
import { prepareTestStacks, startPostgresServer } from "../tests/helpers/postgres-server.ts";
import { startTestStack } from "../tests/helpers/stack.ts";
import { type MixResult, prepareMix, runMix } from "./mix.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    connections: { type: "string", default: "1,8,32" },
    duration: { type: "string", default: "10" },
    soak: { type: "string", default: "0" },
    people: { type: "string", default: "32" },
    "argon2-thread": { type: "string", default: "on" },
  },
});

export async function measureMix(
  adminUrl: string,
  options: {
    connections: number[];
    durationSeconds: number;
    soakSeconds: number;
    people: number;
    argon2Thread?: "on" | "off";
  },
  progress: (message: string) => void,
): Promise<{ runs: MixResult[]; soak: MixResult[] }> {
  await prepareTestStacks(adminUrl, "consultorio_bench_template");
  const s = await startTestStack("postgres", {
    env: { LOG_LEVEL: "warn", ARGON2_THREAD: options.argon2Thread ?? "on" },
  });
  try {
    progress(`preparing ${options.people} patients in live consultations, listening on Realtime`);
    const mix = await prepareMix(s, options.people);
    const runs: MixResult[] = [];
    for (const connections of options.connections) {
      const run = await runMix(s, mix, { connections, durationSeconds: options.durationSeconds });
      progress(describe(run));
      runs.push(run);
    }
    const soak: MixResult[] = [];
    const soakConnections = Math.max(...options.connections);
    for (let elapsed = 0; elapsed < options.soakSeconds; elapsed += 10) {
      const window = await runMix(s, mix, { connections: soakConnections, durationSeconds: 10 });
      progress(`soak ${elapsed + 10}s: ${describe(window)}`);
      soak.push(window);
    }
    await mix.close();
    return { runs, soak };
  } finally {
    await s.close();
  }
}

export function describe(r: MixResult): string {
  const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  return `${r.connections} clients: ${Math.round(r.requestsPerSecond)} req/s, p50 ${
    r.latency.p50.toFixed(1)
  } ms, ` +
    `p99 ${r.latency.p99.toFixed(1)} ms, statuses ${
      JSON.stringify(r.statuses)
    }, errors ${r.errors}, messages ` +
    `${r.messages.acknowledged} acknowledged / ${r.messages.lost} lost / ${r.messages.duplicated} duplicated, ` +
    `heap ${mb(r.heapUsed)}, rss ${mb(r.rss)}`;
}

/** The process's resident high-water mark in MiB (Linux), since it started. */
function peakRss(): number | undefined {
  try {
    const kib = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"))?.[1];
    return kib ? Math.round(Number(kib) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

if (import.meta.main) {
  const given = Deno.env.get("DATABASE_URL");
  const server = given ? undefined : await startPostgresServer();
  let failed = true;
  try {
    const { runs, soak } = await measureMix(given ?? server!.url, {
      connections: values.connections.split(",").map(Number),
      durationSeconds: Number(values.duration),
      soakSeconds: Number(values.soak),
      people: Number(values.people),
      argon2Thread: values["argon2-thread"] === "off" ? "off" : "on",
    }, (m) => console.log(`· ${m}`));
    const all = [...runs, ...soak];
    failed = all.some((r) => r.errors > 0 || r.messages.lost > 0 || r.messages.duplicated > 0);
    const base = runs[0];
    console.log("\nclients  req/s  scaling  p50 ms  p99 ms  errors  lost  dup");
    for (const r of runs) {
      console.log(
        [
          r.connections,
          Math.round(r.requestsPerSecond),
          (r.requestsPerSecond / base.requestsPerSecond).toFixed(2),
          r.latency.p50,
          r.latency.p99,
          r.errors,
          r.messages.lost,
          r.messages.duplicated,
        ].map(String)
          .map((v, i) => (i === 0 ? v.padEnd(7) : v.padStart(6))).join("  "),
      );
    }
    const peak = peakRss();
    if (peak) console.log(`peak RSS of this process (the stack and the load generator): ${peak} MiB`);
    if (soak.length > 1) {
      const heaps = soak.map((r) => r.heapUsed / 2 ** 20);
      console.log(`soak heap per window (MiB): ${heaps.map((h) => h.toFixed(0)).join(", ")}`);
    }
    console.log(
      failed
        ? "\nFAILED: errors, lost or duplicated messages above"
        : "\n0 errors, no message lost or duplicated",
    );
  } finally {
    await server?.stop();
  }
  Deno.exit(failed ? 1 : 0);
}
