/**
 * `deno task bench`, on a real PostgreSQL server. It reports; it never fails
 * on a missed goal.
 *
 * 1. The secured GET /v1/user/{id} of the real stack (A) against a bare Hono
 *    route running the same SELECT (B): latency percentiles, throughput, and
 *    database round trips per request.
 * 2. The doctor's GET /v1/appointments?limit=50 through the real stack, with
 *    a large appointments table against a small one (two databases).
 * 3. At each size, the list query straight to the database: as the caller
 *    under row-level security against service_role with an explicit filter.
 * 4. A consultation chat message's POST until the other side's supabase-js
 *    client has the event, against a raw WebSocket echo through the same gateway.
 * 5. The api function's cold start (process start to first answer) against a
 *    bare Hono app's.
 * 6. The realistic mix of bench/mix.ts at 1, 8 and 32 concurrent clients.
 * 7. A patient's record with 100 consultations: the FHIR export against the
 *    REST reads of the same data (bench/fhir-export.ts; it also runs alone).
 *
 * Settings (environment): BENCH_REQUESTS (2000 per round and mode),
 * BENCH_WARMUP (200), BENCH_ROUNDS (3), BENCH_CONCURRENCY (8),
 * BENCH_RT_REQUESTS (200), BENCH_USERS (500 extra users),
 * BENCH_APPOINTMENTS_SMALL (10000) and BENCH_APPOINTMENTS_LARGE (1000000)
 * appointments, BENCH_LIST_REQUESTS (600 list requests per page and size),
 * BENCH_QUERY_CALLS (2000 database calls per path and size), BENCH_REALTIME_SAMPLES
 * (300 messages), BENCH_COLD_STARTS (10 starts of each), BENCH_MIX_SECONDS
 * (10 seconds per client count), BENCH_FHIR_CONSULTATIONS (100) and BENCH_FHIR_REQUESTS
 * (200 of each); DATABASE_URL to
 * use that server (a fresh database is created and dropped) instead of a
 * throwaway one. A quick run: BENCH_APPOINTMENTS_LARGE=50000
 * BENCH_LIST_REQUESTS=100 BENCH_QUERY_CALLS=300 BENCH_REQUESTS=300.
 */
import { measureAppointmentLists } from "./appointments-list.ts";
import { measureColdStart } from "./cold-start.ts";
import { measureFhirExport } from "./fhir-export.ts";
import { measureMix } from "./load.ts";
import { measureRealtimeLatency } from "./realtime-latency.ts";
import { startBareServer } from "./bare-get.ts";
import { DOCTORS, loadAppointments, PATIENTS, SLOT_MINUTES } from "./lib/appointments-data.ts";
import { type BenchDatabase, createBenchDatabase, prepareBenchData } from "./lib/database.ts";
import { createTarget, fetchJson, runConcurrent, runSequential, type Target, warmUp } from "./lib/load.ts";
import {
  type BenchResults,
  formatMarkdown,
  formatTable,
  type LatencyResult,
  type RoundTripResult,
  toJson,
} from "./lib/report.ts";
import { type RoundTripProxy, serverAddress, startRoundTripProxy, throughProxy } from "./lib/rt-proxy.ts";
import { summarize, type Summary } from "./lib/stats.ts";
import { claimsOf, measureRlsVsService } from "./rls-vs-service.ts";
import { startSecuredServer } from "./secured-get.ts";

function setting(name: string, fallback: number): number {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive integer, not ${raw}`);
  }
  return value;
}

const config = {
  requests: setting("BENCH_REQUESTS", 2000),
  warmup: setting("BENCH_WARMUP", 200),
  rounds: setting("BENCH_ROUNDS", 3),
  concurrency: setting("BENCH_CONCURRENCY", 8),
  roundTripRequests: setting("BENCH_RT_REQUESTS", 200),
  extraUsers: setting("BENCH_USERS", 500),
  appointmentsSmall: setting("BENCH_APPOINTMENTS_SMALL", 10_000),
  appointmentsLarge: setting("BENCH_APPOINTMENTS_LARGE", 1_000_000),
  listRequests: setting("BENCH_LIST_REQUESTS", 600),
  queryCalls: setting("BENCH_QUERY_CALLS", 2000),
  realtimeSamples: setting("BENCH_REALTIME_SAMPLES", 300),
  coldStarts: setting("BENCH_COLD_STARTS", 10),
  mixSeconds: setting("BENCH_MIX_SECONDS", 10),
  fhirConsultations: setting("BENCH_FHIR_CONSULTATIONS", 100),
  fhirRequests: setting("BENCH_FHIR_REQUESTS", 200),
};
const MIX_CLIENTS = [1, 8, 32];
/** Untimed calls before an appointment measurement: a tenth of the timed ones, at least 20. */
const warmupFor = (count: number) => Math.max(20, Math.round(count / 10));

if (config.appointmentsLarge <= config.appointmentsSmall) {
  throw new Error("BENCH_APPOINTMENTS_LARGE must be more than BENCH_APPOINTMENTS_SMALL");
}

const progress = (message: string) => console.log(`· ${message}`);

/** What was started, stopped in reverse order whatever happens. */
const started: Array<() => Promise<void>> = [];

async function stopEverything() {
  for (let stop = started.pop(); stop; stop = started.pop()) {
    try {
      await stop();
    } catch (error) {
      console.error("while stopping:", error);
    }
  }
}

function track<T extends { close(): Promise<void> | void }>(thing: T): T {
  started.push(async () => await thing.close());
  return thing;
}

function randomSecret(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

async function dependencyVersions(): Promise<{ driver: string; hono: string }> {
  const { imports } = JSON.parse(await Deno.readTextFile(new URL("../import_map.json", import.meta.url)));
  const version = (name: string) => /@([^@/]+)\/?$/.exec(imports[name] ?? "")?.[1] ?? "unknown";
  return { driver: `postgres.js ${version("postgres")}`, hono: version("hono") };
}

/** Lays the Markdown out the way `deno fmt` would, so that the repository stays formatted after a run. */
async function formatWithDeno(file: URL) {
  const { success } = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", file.pathname],
    stdout: "null",
    stderr: "null",
  }).output();
  if (!success) console.error(`(could not run deno fmt on ${file.pathname}; it is left as written)`);
}

/** Both servers answer the doctor's profile before anything is timed. */
async function checkAnswers(a: Target, b: Target, userId: string) {
  const secured = await fetchJson(a);
  const bare = await fetchJson(b);
  const data = secured.data as Record<string, unknown> | undefined;
  if (secured.success !== true || data?.id !== userId) {
    throw new Error(`A answered something else: ${JSON.stringify(secured)}`);
  }
  if (bare.id !== userId) throw new Error(`B answered something else: ${JSON.stringify(bare)}`);
}

/** What one server's rounds recorded. */
interface Samples {
  sequential: number[];
  concurrent: number[];
  concurrentMs: number;
  rounds: LatencyResult["rounds"];
}

async function measureLatency(
  a: Target,
  b: Target,
): Promise<{ secured: LatencyResult; bare: LatencyResult }> {
  for (const target of [a, b]) {
    progress(`warm-up ${target.name}: ${config.warmup} sequential + ${config.warmup} concurrent`);
    await warmUp(target, config.warmup, config.concurrency);
  }

  const samples = new Map<Target, Samples>(
    [a, b].map((t) => [t, { sequential: [], concurrent: [], concurrentMs: 0, rounds: [] }]),
  );
  for (let round = 1; round <= config.rounds; round++) {
    // A first in odd rounds, B first in even ones, so that drift hurts neither.
    const order = round % 2 === 1 ? [a, b] : [b, a];
    const sequential = new Map<Target, Summary>();
    for (const target of order) {
      const latencies = await runSequential(target, config.requests);
      samples.get(target)!.sequential.push(...latencies);
      sequential.set(target, summarize(latencies));
    }
    for (const target of order) {
      const run = await runConcurrent(target, config.requests, config.concurrency);
      const recorded = samples.get(target)!;
      recorded.concurrent.push(...run.latencies);
      recorded.concurrentMs += run.elapsedMs;
      const { p50, p99 } = sequential.get(target)!;
      recorded.rounds.push({ p50, p99, requestsPerSecond: run.requestsPerSecond });
    }
    const line = order.map((t) => {
      const r = samples.get(t)!.rounds.at(-1)!;
      return `${t.name} p50 ${r.p50.toFixed(3)} ms, ${Math.round(r.requestsPerSecond)} req/s`;
    });
    progress(`round ${round}/${config.rounds}: ${line.join("; ")}`);
  }

  const result = (t: Target): LatencyResult => {
    const recorded = samples.get(t)!;
    return {
      sequential: summarize(recorded.sequential),
      concurrent: summarize(recorded.concurrent),
      requestsPerSecond: recorded.concurrent.length / (recorded.concurrentMs / 1000),
      rounds: recorded.rounds,
    };
  };
  return { secured: result(a), bare: result(b) };
}

/** Second instances of A and B, whose pools reach PostgreSQL through counting proxies. */
async function measureRoundTrips(
  database: BenchDatabase,
  jwtSecret: string,
  userId: string,
  token: string,
): Promise<{ secured: RoundTripResult; bare: RoundTripResult }> {
  const address = serverAddress(database.url);
  const securedProxy = track(startRoundTripProxy(address));
  const securedServer = track(
    await startSecuredServer(throughProxy(database.url, securedProxy), jwtSecret),
  );
  const bareProxy = track(startRoundTripProxy(address));
  const bareServer = track(startBareServer(throughProxy(database.url, bareProxy)));
  const a = track(
    createTarget("A secured", securedServer.userUrl(userId), { Authorization: `Bearer ${token}` }),
  );
  const b = track(createTarget("B bare", bareServer.userUrl(userId)));
  securedProxy.reset();
  bareProxy.reset();
  await checkAnswers(a, b, userId);
  const firstRequest = new Map([[a, securedProxy.roundTrips], [b, bareProxy.roundTrips]]);

  const count = async (target: Target, proxy: RoundTripProxy) => {
    await runSequential(target, config.warmup);
    proxy.reset();
    await runSequential(target, config.roundTripRequests);
    const result: RoundTripResult = {
      firstRequest: firstRequest.get(target)!,
      requests: config.roundTripRequests,
      roundTrips: proxy.roundTrips,
      perRequest: proxy.roundTrips / config.roundTripRequests,
      newConnections: proxy.connections,
    };
    progress(
      `${target.name}: first request ${result.firstRequest} round trips; ` +
        `then ${result.roundTrips} over ${result.requests} requests`,
    );
    return result;
  };
  return { secured: await count(a, securedProxy), bare: await count(b, bareProxy) };
}

/** A fresh database with `rows` appointments, and a secured server on it where the doctor signed in. */
async function appointmentSize(url: string, jwtSecret: string, rows: number) {
  const data = await prepareBenchData(url, config.extraUsers);
  progress(`loading ${rows} appointments`);
  const table = await loadAppointments(url, data.doctor.id, rows);
  progress(`${rows} appointments in ${(table.loadMs / 1000).toFixed(1)} s (insert, vacuum analyze)`);
  const server = track(await startSecuredServer(url, jwtSecret));
  const token = await server.login(data.doctor.phone, data.doctor.password);
  return { ...table, url, server, token, doctorId: data.doctor.id };
}

/**
 * The doctor's list (through the stack) and the list query (in the
 * database), each at both sizes in alternating rounds: one fresh database
 * per size on the same server.
 */
async function measureAppointments(
  database: BenchDatabase,
  jwtSecret: string,
): Promise<BenchResults["appointments"]> {
  progress(`appointments: ${DOCTORS} doctors, ${PATIENTS} patients in each of two databases`);
  const sizes = [
    await appointmentSize(await database.another(), jwtSecret, config.appointmentsSmall),
    await appointmentSize(await database.another(), jwtSecret, config.appointmentsLarge),
  ];

  progress(`GET /v1/appointments: ${config.listRequests} requests per page and size`);
  const [small, large] = await measureAppointmentLists(sizes, {
    requests: config.listRequests,
    warmup: warmupFor(config.listRequests),
  });
  for (const l of [small, large]) {
    progress(
      `at ${l.rows}: first page p50 ${l.firstPage.p50.toFixed(3)} ms, ` +
        `middle page p50 ${l.middlePage.p50.toFixed(3)} ms`,
    );
  }

  progress(`list query in the database: ${config.queryCalls} calls per path and size`);
  const [smallQuery, largeQuery] = await measureRlsVsService(
    sizes.map((size) => ({ rows: size.rows, databaseUrl: size.url, claims: claimsOf(size.token) })),
    { calls: config.queryCalls, warmup: warmupFor(config.queryCalls) },
  );
  for (const q of [smallQuery, largeQuery]) {
    progress(
      `at ${q.rows}: caller ${q.caller.p50.toFixed(3)} ms, caller filtering too ` +
        `${q.callerFiltered.p50.toFixed(3)} ms, service_role ${q.service.p50.toFixed(3)} ms (p50)`,
    );
  }
  return { doctors: DOCTORS, patients: PATIENTS, list: [small, large], query: [smallQuery, largeQuery] };
}

async function main() {
  progress("starting PostgreSQL and preparing the bench database");
  const database = track(await createBenchDatabase());
  const data = await prepareBenchData(database.url, config.extraUsers);
  progress(`${data.users} users; PostgreSQL ${database.serverVersion} (${database.source})`);

  const jwtSecret = randomSecret();
  const secured = track(await startSecuredServer(database.url, jwtSecret));
  const bare = track(startBareServer(database.url));
  const token = await secured.login(data.doctor.phone, data.doctor.password);
  const a = track(
    createTarget("A secured", secured.userUrl(data.doctor.id), { Authorization: `Bearer ${token}` }),
  );
  const b = track(createTarget("B bare", bare.userUrl(data.doctor.id)));
  await checkAnswers(a, b, data.doctor.id);

  const latency = await measureLatency(a, b);
  progress("counting database round trips through proxies");
  const roundTrips = await measureRoundTrips(database, jwtSecret, data.doctor.id, token);
  const appointments = await measureAppointments(database, jwtSecret);

  progress(`realtime: ${config.realtimeSamples} chat messages, and as many WebSocket echoes`);
  const realtime = await measureRealtimeLatency({
    samples: config.realtimeSamples,
    warmup: warmupFor(config.realtimeSamples),
    databaseUrl: database.adminUrl,
  });
  progress(`cold start: ${config.coldStarts} starts of the api function and of a bare Hono app`);
  const coldStart = await measureColdStart({ runs: config.coldStarts, databaseUrl: database.adminUrl });
  progress(`realistic mix: ${MIX_CLIENTS.join(", ")} clients, ${config.mixSeconds} s each`);
  const { runs: mixRuns } = await measureMix(database.adminUrl, {
    connections: MIX_CLIENTS,
    durationSeconds: config.mixSeconds,
    soakSeconds: 0,
    people: 32,
  }, progress);
  const mix = mixRuns.map((m) => ({
    connections: m.connections,
    requestsPerSecond: m.requestsPerSecond,
    latency: m.latency,
    errors: m.errors,
    messages: m.messages,
  }));

  const fhirExport = await measureFhirExport(await database.another(), jwtSecret, {
    consultations: config.fhirConsultations,
    requests: config.fhirRequests,
    warmup: warmupFor(config.fhirRequests),
  }, progress);

  const versions = await dependencyVersions();
  const results: BenchResults = {
    timestamp: new Date().toISOString(),
    environment: {
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      os: `${Deno.build.os} ${Deno.build.arch}`,
      cpus: navigator.hardwareConcurrency,
      postgresServer: database.serverVersion,
      database: database.source,
      driver: versions.driver,
      hono: versions.hono,
      users: data.users,
    },
    config,
    requests: {
      secured: "GET /functions/v1/api/v1/user/{id} with a Bearer token (the real stack)",
      bare: "GET /user/:id on a bare Hono app, same SELECT as the owner",
    },
    method: {
      latency: `A and B without proxies, client (fetch, keep-alive) and servers in one process; ` +
        `${config.warmup} sequential + ${config.warmup} concurrent warm-up requests each, then ` +
        `${config.rounds} alternating rounds of ${config.requests} sequential requests and ` +
        `${config.requests} requests over ${config.concurrency} concurrent workers; percentiles ` +
        `pooled over the rounds.`,
      roundTrips: `second instances of A and B whose pools reach PostgreSQL through a counting TCP ` +
        `proxy; ${config.warmup} sequential warm-up requests, counter reset, then ` +
        `${config.roundTripRequests} sequential requests ("first request": the very first one, counted ` +
        `separately). A round trip is the client starting to send ` +
        `after the server has sent, per connection (a new connection's first send counts too).`,
      appointmentList: `each size in a fresh database of its own on the same server, with the same ` +
        `people; the doctor (one of ${DOCTORS}, all with the same share of the appointments, at the same ` +
        `times, ${SLOT_MINUTES} minutes apart from tomorrow) signs in on a secured server per size. ` +
        `"First page" is GET /v1/appointments?limit=50, "middle page" adds from= the start of the ` +
        `doctor's middle appointment. ${warmupFor(config.listRequests)} warm-up requests each, then 2 ` +
        `alternating rounds over both sizes and pages, ${config.listRequests} sequential requests per page ` +
        `and size in all. Loaded as the owner with generate_series, trigger appointments_check disabled ` +
        `during the insert (constraints, indexes and foreign keys on), then vacuum analyze.`,
      query:
        `listQuery(), first page of 50, for the same doctor, through shared/db/postgres.ts: the caller ` +
        `path is db.queryAsCaller with the claims of the doctor's real login token, no explicit filter ` +
        `("caller filtering too" is exactly what GET /v1/appointments sends a doctor); ` +
        `service_role is db.asService with the doctor filter (the bench grants it execute on ` +
        `app.doctor_directory(), which it lacks, and sets the claims so that the join answers the same ` +
        `rows; the three answers are checked equal). One Database each, one connection, prepared ` +
        `statements. queryAsCaller is one round trip, asService two (its commit). ` +
        `${warmupFor(config.queryCalls)} warm-up calls each, then 2 alternating rounds over both sizes and ` +
        `the three paths, ${config.queryCalls} sequential calls per path and size in all.`,
      realtime: `the real local stack on PostgreSQL in this process; the doctor POSTs a chat message in a ` +
        `live consultation and the patient's supabase-js client, joined to the private channel ` +
        `consultation:{id}, receives chat.message_created; one message at a time, ` +
        `${warmupFor(config.realtimeSamples)} warm-up messages. Baseline: a raw WebSocket client sends to ` +
        `an echo route of the same gateway and port and waits for the echo.`,
      coldStart: `a new process per start (deno run), timed from spawn to the first 200 of GET /api/v1 ` +
        `(polled every few ms), the api function with its real configuration against a bare Hono app on ` +
        `the same path; ${config.coldStarts} starts of each, alternating.`,
      mix: `autocannon against the real local stack on PostgreSQL in this process (bench/mix.ts: sign-in, ` +
        `slots, the doctor's list, a booking, a chat message, a file prepared, uploaded through its signed ` +
        `URL and confirmed), ${config.mixSeconds} s at each client count; 32 patients in live consultations ` +
        `listen on Realtime and every acknowledged message must reach them exactly once. Sign-ins (about ` +
        `one request in eight) queue on the one Argon2id worker thread.`,
      fhirExport: `a fresh database with one patient of the doctor and ${config.fhirConsultations} past ` +
        `visits (appointment, closed consultation, clinic history with a diagnosis, 3 vital signs and a ` +
        `prescription), loaded as the owner; the doctor signs in on a secured server whose pool goes ` +
        `through a counting proxy. GET /v1/fhir/Patient/{id}/$everything against the 5 REST reads of the ` +
        `same data one after the other (the patient, antecedents, appointments?limit=200, ` +
        `clinic-histories?limit=200, consultations?limit=200); ${warmupFor(config.fhirRequests)} warm-up ` +
        `calls each, then 2 alternating rounds, ${config.fhirRequests} of each in all. Round trips: one ` +
        `export after warm-up, counted at the proxy.`,
    },
    latency,
    roundTrips,
    appointments,
    realtime: { ...realtime, samples: config.realtimeSamples },
    coldStart: { ...coldStart, eagerHeavyImports: coldStart.eagerHeavyImports ?? [] },
    mix,
    fhirExport,
  };

  console.log(`\n${formatTable(results)}\n`);
  await Deno.writeTextFile(
    new URL("./results.json", import.meta.url),
    `${JSON.stringify(toJson(results), null, 2)}\n`,
  );
  const markdown = new URL("./results.md", import.meta.url);
  await Deno.writeTextFile(markdown, formatMarkdown(results));
  await formatWithDeno(markdown);
  progress("wrote bench/results.json and bench/results.md");
}

/** Ctrl-C still stops the servers and deletes the throwaway database. */
let interrupted = false;
const onInterrupt = () => {
  interrupted = true;
  console.error("interrupted: stopping everything");
  stopEverything().finally(() => Deno.exit(130));
};
Deno.addSignalListener("SIGINT", onInterrupt);
try {
  await main();
} catch (error) {
  if (!interrupted) console.error("bench failed:", error);
  Deno.exitCode = 1;
} finally {
  await stopEverything();
  Deno.removeSignalListener("SIGINT", onInterrupt);
}
