/** The bench's results: one model, printed as a table, written as JSON and as Markdown. */
import type { FhirExportResult } from "../fhir-export.ts";
import { round, type Summary } from "./stats.ts";

export const LATENCY_GOAL_AT_P50 = 1.5;
export const ROUND_TRIP_GOAL = 1;
/** The doctor's list at the large size over the small one, at p50. */
export const LIST_GROWTH_GOAL_AT_P50 = 1.3;
/** The list query as the caller under RLS over service_role with an explicit filter, at p50. */
export const RLS_GOAL_AT_P50 = 1.2;
/** A chat message's POST until the other client's event, over a raw WebSocket echo, at p50. */
export const REALTIME_GOAL_AT_P50 = 3;
/** The api function's cold start (process start to first answer) over a bare Hono app's, at p50. */
export const COLD_START_GOAL_AT_P50 = 2;

export interface LatencyResult {
  /** Sequential requests, every round pooled. */
  sequential: Summary;
  /** Latencies seen by the concurrent workers, every round pooled. */
  concurrent: Summary;
  /** Concurrent requests over concurrent time, every round pooled. */
  requestsPerSecond: number;
  rounds: Array<{ p50: number; p99: number; requestsPerSecond: number }>;
}

export interface RoundTripResult {
  /** Round trips of the first request after start-up (connections and statements not yet prepared). */
  firstRequest: number;
  requests: number;
  roundTrips: number;
  perRequest: number;
  /** Connections the pool opened while counting (each one's start-up counts as a round trip). */
  newConnections: number;
}

/** The doctor's GET /v1/appointments?limit=50 through the real stack, at one table size. */
export interface ListResult {
  rows: number;
  /** Milliseconds to load the table's `rows` (insert, then vacuum analyze). */
  loadMs: number;
  firstPage: Summary;
  /** The page from the start of the doctor's middle appointment (`from`). */
  middlePage: Summary;
  middleFrom: string;
  /** Items in each page's answer. */
  items: { firstPage: number; middlePage: number };
}

/** The API's list query for the doctor, straight to the database, at one table size. */
export interface QueryResult {
  rows: number;
  /** queryAsCaller under row-level security, as GET /v1/appointments runs it (no explicit filter). */
  caller: Summary;
  /** queryAsCaller under row-level security, with the doctor filter also explicit. */
  callerFiltered: Summary;
  /** asService (row-level security bypassed) with the doctor filter explicit. */
  service: Summary;
  /** Rows each of them answered (the same ones, checked). */
  answered: number;
}

export interface RealtimeResult {
  /** POST .../messages until the patient's supabase-js client has chat.message_created. */
  event: Summary;
  /** A raw WebSocket message until its echo, through the same gateway. */
  echo: Summary;
  samples: number;
}

export interface ColdStartResult {
  /** Process start to the first 200 of the api function. */
  api: Summary;
  /** The same for a bare Hono app. */
  bare: Summary;
  runs: number;
  /** Heavy SDKs the api function imports before its first request (none is the goal). */
  eagerHeavyImports: string[];
}

/** The realistic mix (bench/mix.ts) at one number of concurrent clients. */
export interface MixRun {
  connections: number;
  requestsPerSecond: number;
  latency: Summary;
  errors: number;
  messages: { acknowledged: number; lost: number; duplicated: number };
}

export interface BenchResults {
  timestamp: string;
  environment: Record<string, string | number>;
  config: Record<string, number>;
  requests: { secured: string; bare: string };
  method: {
    latency: string;
    roundTrips: string;
    appointmentList: string;
    query: string;
    realtime: string;
    coldStart: string;
    mix: string;
    fhirExport: string;
  };
  latency: { secured: LatencyResult; bare: LatencyResult };
  roundTrips: { secured: RoundTripResult; bare: RoundTripResult };
  appointments: {
    doctors: number;
    patients: number;
    /** At the small size, then at the large one. */
    list: [ListResult, ListResult];
    query: [QueryResult, QueryResult];
  };
  realtime: RealtimeResult;
  coldStart: ColdStartResult;
  mix: MixRun[];
  fhirExport: FhirExportResult;
}

interface Row {
  metric: string;
  measured: number;
  baseline: number;
  digits: number;
  goal?: string;
}

/** Rows under a heading that names what the measured and baseline columns hold. */
interface Section {
  title: string;
  measured: string;
  baseline: string;
  rows: Row[];
}

const count = (n: number) => n.toLocaleString("en-US");

function userSection(r: BenchResults): Section {
  const { secured: a, bare: b } = r.latency;
  const workers = r.config.concurrency;
  const latency = (metric: string, pick: (l: LatencyResult) => number, goal?: string): Row => ({
    metric,
    measured: pick(a),
    baseline: pick(b),
    digits: 3,
    goal,
  });
  return {
    title: "GET /v1/user/{id}",
    measured: "A secured",
    baseline: "B bare",
    rows: [
      latency("latency p50 (ms)", (l) => l.sequential.p50, `≤ ${LATENCY_GOAL_AT_P50}x at p50`),
      latency("latency p90 (ms)", (l) => l.sequential.p90),
      latency("latency p99 (ms)", (l) => l.sequential.p99),
      latency("latency mean (ms)", (l) => l.sequential.mean),
      latency(`p50 with ${workers} workers (ms)`, (l) => l.concurrent.p50),
      latency(`p99 with ${workers} workers (ms)`, (l) => l.concurrent.p99),
      { ...latency(`throughput, ${workers} workers (req/s)`, (l) => l.requestsPerSecond), digits: 0 },
      {
        metric: "DB round trips / request",
        measured: r.roundTrips.secured.perRequest,
        baseline: r.roundTrips.bare.perRequest,
        digits: 2,
        goal: `${ROUND_TRIP_GOAL} (secured)`,
      },
      {
        metric: "DB round trips, first request",
        measured: r.roundTrips.secured.firstRequest,
        baseline: r.roundTrips.bare.firstRequest,
        digits: 0,
      },
    ],
  };
}

function listSection(r: BenchResults): Section {
  const [small, large] = r.appointments.list;
  const row = (metric: string, pick: (l: ListResult) => number, goal?: string): Row => ({
    metric,
    measured: pick(large),
    baseline: pick(small),
    digits: 3,
    goal,
  });
  return {
    title: "doctor's GET /v1/appointments",
    measured: `${count(large.rows)} rows`,
    baseline: `${count(small.rows)} rows`,
    rows: [
      row("first page p50 (ms)", (l) => l.firstPage.p50, `≤ ${LIST_GROWTH_GOAL_AT_P50}x at p50`),
      row("first page p99 (ms)", (l) => l.firstPage.p99),
      row("middle page p50 (ms)", (l) => l.middlePage.p50),
      row("middle page p99 (ms)", (l) => l.middlePage.p99),
    ],
  };
}

function querySection(r: BenchResults): Section {
  const [small, large] = r.appointments.query;
  const at = (q: QueryResult, goal?: string): Row[] => [
    {
      metric: `p50 at ${count(q.rows)} rows (ms)`,
      measured: q.caller.p50,
      baseline: q.service.p50,
      digits: 3,
      goal,
    },
    {
      metric: `p99 at ${count(q.rows)} rows (ms)`,
      measured: q.caller.p99,
      baseline: q.service.p99,
      digits: 3,
    },
    {
      metric: `p50 at ${count(q.rows)}, caller filtering too (ms)`,
      measured: q.callerFiltered.p50,
      baseline: q.service.p50,
      digits: 3,
    },
  ];
  return {
    title: "list query in the database",
    measured: "caller (RLS)",
    baseline: "service_role",
    rows: [...at(large, `≤ ${RLS_GOAL_AT_P50}x at p50`), ...at(small)],
  };
}

function realtimeSection(r: BenchResults): Section {
  const { event, echo } = r.realtime;
  return {
    title: "chat message to the other client",
    measured: "POST → event",
    baseline: "WebSocket echo",
    rows: [
      {
        metric: "p50 (ms)",
        measured: event.p50,
        baseline: echo.p50,
        digits: 3,
        goal: `≤ ${REALTIME_GOAL_AT_P50}x at p50`,
      },
      { metric: "p99 (ms)", measured: event.p99, baseline: echo.p99, digits: 3 },
    ],
  };
}

function coldStartSection(r: BenchResults): Section {
  const { api, bare } = r.coldStart;
  return {
    title: "cold start (process start to first answer)",
    measured: "api function",
    baseline: "bare Hono",
    rows: [
      {
        metric: "p50 (ms)",
        measured: api.p50,
        baseline: bare.p50,
        digits: 1,
        goal: `≤ ${COLD_START_GOAL_AT_P50}x at p50`,
      },
      { metric: "max (ms)", measured: api.max, baseline: bare.max, digits: 1 },
    ],
  };
}

function mixSection(r: BenchResults): Section {
  const [base] = r.mix;
  return {
    title: "realistic mix (bench/mix.ts)",
    measured: "N clients",
    baseline: `${base.connections} client`,
    rows: r.mix.slice(1).flatMap((run) => [
      {
        metric: `throughput, ${run.connections} clients (req/s)`,
        measured: run.requestsPerSecond,
        baseline: base.requestsPerSecond,
        digits: 0,
      },
      {
        metric: `p50, ${run.connections} clients (ms)`,
        measured: run.latency.p50,
        baseline: base.latency.p50,
        digits: 1,
      },
      {
        metric: `p99, ${run.connections} clients (ms)`,
        measured: run.latency.p99,
        baseline: base.latency.p99,
        digits: 1,
      },
    ]),
  };
}

function fhirSection(r: BenchResults): Section {
  const f = r.fhirExport;
  return {
    title: `a patient's record, ${f.consultations} consultations`,
    measured: "FHIR $everything",
    baseline: `${f.restRequests} REST reads`,
    rows: [
      { metric: "p50 (ms)", measured: f.export.p50, baseline: f.rest.p50, digits: 2 },
      { metric: "p99 (ms)", measured: f.export.p99, baseline: f.rest.p99, digits: 2 },
      { metric: "answer (kB)", measured: f.bytes.export / 1000, baseline: f.bytes.rest / 1000, digits: 0 },
      { metric: "DB round trips, export", measured: f.exportRoundTrips, baseline: f.restRequests, digits: 0 },
    ],
  };
}

const sections = (r: BenchResults) => [
  userSection(r),
  listSection(r),
  querySection(r),
  realtimeSection(r),
  coldStartSection(r),
  mixSection(r),
  fhirSection(r),
];

interface Goal {
  key: string;
  what: string;
  value: number;
  limit: number;
  unit: "x" | "";
}

function goals(r: BenchResults): Goal[] {
  const [smallList, largeList] = r.appointments.list;
  const largeQuery = r.appointments.query[1];
  return [
    {
      key: "latencyP50Ratio",
      what: "GET /v1/user/{id}, A/B at p50",
      value: r.latency.secured.sequential.p50 / r.latency.bare.sequential.p50,
      limit: LATENCY_GOAL_AT_P50,
      unit: "x",
    },
    {
      key: "securedRoundTripsPerRequest",
      what: "secured round trips per request",
      value: r.roundTrips.secured.perRequest,
      limit: ROUND_TRIP_GOAL,
      unit: "",
    },
    {
      key: "appointmentListP50Ratio",
      what: `doctor's appointment list, ${count(largeList.rows)} over ${count(smallList.rows)} rows at p50`,
      value: largeList.firstPage.p50 / smallList.firstPage.p50,
      limit: LIST_GROWTH_GOAL_AT_P50,
      unit: "x",
    },
    {
      key: "rlsVsServiceP50Ratio",
      what: `list query, caller under RLS over service_role at ${count(largeQuery.rows)} rows at p50`,
      value: largeQuery.caller.p50 / largeQuery.service.p50,
      limit: RLS_GOAL_AT_P50,
      unit: "x",
    },
    {
      key: "realtimeEventP50Ratio",
      what: "chat message POST → other client's event, over a WebSocket echo at p50",
      value: r.realtime.event.p50 / r.realtime.echo.p50,
      limit: REALTIME_GOAL_AT_P50,
      unit: "x",
    },
    {
      key: "coldStartP50Ratio",
      what: "api function cold start over a bare Hono app's at p50",
      value: r.coldStart.api.p50 / r.coldStart.bare.p50,
      limit: COLD_START_GOAL_AT_P50,
      unit: "x",
    },
  ];
}

const met = (g: Goal) => g.value <= g.limit;

function verdicts(r: BenchResults): string[] {
  return goals(r).map((g) =>
    `${g.what}: ${g.value.toFixed(2)}${g.unit}, goal ≤ ${g.limit}${g.unit} ${met(g) ? "met" : "NOT met"}`
  );
}

/** What the mix checked, and what the api function loads eagerly. */
function checks(r: BenchResults): string[] {
  const mix = r.mix.map((m) =>
    `${m.connections} clients: ${m.errors} errors, ${m.messages.acknowledged} messages, ` +
    `${m.messages.lost} lost, ${m.messages.duplicated} duplicated`
  ).join("; ");
  const eager = r.coldStart.eagerHeavyImports;
  return [
    `realistic mix: ${mix}`,
    `heavy SDKs imported before the first request: ${eager.length ? eager.join(", ") : "none"}`,
  ];
}

function loads(r: BenchResults): string {
  const [small, large] = r.appointments.list;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return `appointments (${r.appointments.doctors} doctors, ${count(r.appointments.patients)} patients) ` +
    `loaded: ${count(small.rows)} in ${seconds(small.loadMs)}, ${count(large.rows)} in ` +
    `${seconds(large.loadMs)}; middle pages from ${small.middleFrom} (${small.items.middlePage} items) ` +
    `and ${large.middleFrom} (${large.items.middlePage} items).`;
}

const HEADER = ["metric", "measured", "baseline", "ratio", "goal"];

function cells(row: Row): string[] {
  return [
    row.metric,
    row.measured.toFixed(row.digits),
    row.baseline.toFixed(row.digits),
    `${(row.measured / row.baseline).toFixed(2)}x`,
    row.goal ?? "",
  ];
}

/** Each section's heading line, then its rows. */
function lines(r: BenchResults, heading: (s: Section) => string[]): string[][] {
  return sections(r).flatMap((s) => [heading(s), ...s.rows.map(cells)]);
}

export function formatTable(r: BenchResults): string {
  const body = lines(r, (s) => [`[${s.title}]`, s.measured, s.baseline, "", ""]);
  const table = [HEADER, ...body];
  const widths = HEADER.map((_, i) => Math.max(...table.map((line) => line[i].length)));
  const line = (values: string[]) =>
    values.map((v, i) => (i === 0 || i === 4 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join("  ")
      .trimEnd();
  return [
    `A: ${r.requests.secured}`,
    `B: ${r.requests.bare}`,
    "",
    line(HEADER),
    line(widths.map((w) => "-".repeat(w))),
    ...body.map(line),
    "",
    ...verdicts(r),
    ...checks(r),
    "",
    loads(r),
    "",
    `latency: ${r.method.latency}`,
    `round trips: ${r.method.roundTrips}`,
    `appointment list: ${r.method.appointmentList}`,
    `list query: ${r.method.query}`,
    `realtime: ${r.method.realtime}`,
    `cold start: ${r.method.coldStart}`,
    `realistic mix: ${r.method.mix}`,
    `FHIR export: ${r.method.fhirExport}`,
  ].join("\n");
}

export function formatMarkdown(r: BenchResults): string {
  const row = (values: string[]) => `| ${values.join(" | ")} |`;
  const env = Object.entries(r.environment).map(([k, v]) => `${k} ${v}`).join(", ");
  const config = Object.entries(r.config).map(([k, v]) => `${k}=${v}`).join(", ");
  const bold = (text: string) => (text ? `**${text}**` : "");
  return [
    "# Bench: the secured stack against baselines",
    "",
    `Run ${r.timestamp}. ${env}.`,
    "",
    `Settings: ${config}.`,
    "",
    `- **A (secured):** ${r.requests.secured}`,
    `- **B (bare):** ${r.requests.bare}`,
    "",
    row(HEADER),
    row(["---", "---:", "---:", "---:", "---"]),
    ...lines(r, (s) => [s.title, s.measured, s.baseline, "", ""].map(bold)).map(row),
    "",
    ...[...verdicts(r), ...checks(r)].map((v) => `- ${v}`),
    "",
    `${loads(r)[0].toUpperCase()}${loads(r).slice(1)}`,
    "",
    `Latency: ${r.method.latency}`,
    "",
    `Round trips: ${r.method.roundTrips}`,
    "",
    `Appointment list: ${r.method.appointmentList}`,
    "",
    `List query: ${r.method.query}`,
    "",
    `Realtime: ${r.method.realtime}`,
    "",
    `Cold start: ${r.method.coldStart}`,
    "",
    `Realistic mix: ${r.method.mix}`,
    "",
    `FHIR export: ${r.method.fhirExport}`,
    "",
  ].join("\n");
}

export function toJson(r: BenchResults): unknown {
  return {
    timestamp: r.timestamp,
    environment: r.environment,
    config: r.config,
    requests: r.requests,
    method: r.method,
    goals: Object.fromEntries(
      goals(r).map((g) => [g.key, { goal: `<= ${g.limit}`, value: round(g.value, 3), met: met(g) }]),
    ),
    metrics: sections(r).flatMap((s) =>
      s.rows.map((x) => ({
        section: s.title,
        metric: x.metric,
        measured: round(x.measured, x.digits + 1),
        baseline: round(x.baseline, x.digits + 1),
        columns: [s.measured, s.baseline],
        ratio: round(x.measured / x.baseline, 3),
        goal: x.goal ?? null,
      }))
    ),
    latency: roundDeep(r.latency),
    roundTrips: roundDeep(r.roundTrips),
    appointments: roundDeep(r.appointments),
    realtime: roundDeep(r.realtime),
    coldStart: roundDeep(r.coldStart),
    mix: roundDeep(r.mix),
    fhirExport: roundDeep(r.fhirExport),
  };
}

function roundDeep<T>(value: T): T {
  if (typeof value === "number") return (Number.isInteger(value) ? value : round(value, 4)) as T;
  if (Array.isArray(value)) return value.map(roundDeep) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundDeep(v)])) as T;
  }
  return value;
}
