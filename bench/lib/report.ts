/** The bench's results: one model, printed as a table, written as JSON and as Markdown. */
import { round, type Summary } from "./stats.ts";

export const LATENCY_GOAL_AT_P50 = 1.5;
export const ROUND_TRIP_GOAL = 1;

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

export interface BenchResults {
  timestamp: string;
  environment: Record<string, string | number>;
  config: Record<string, number>;
  requests: { secured: string; bare: string };
  method: { latency: string; roundTrips: string };
  latency: { secured: LatencyResult; bare: LatencyResult };
  roundTrips: { secured: RoundTripResult; bare: RoundTripResult };
}

interface Row {
  metric: string;
  secured: number;
  bare: number;
  digits: number;
  goal: string;
}

function rows(r: BenchResults): Row[] {
  const { secured: a, bare: b } = r.latency;
  const workers = r.config.concurrency;
  return [
    {
      metric: "latency p50 (ms)",
      secured: a.sequential.p50,
      bare: b.sequential.p50,
      digits: 3,
      goal: `≤ ${LATENCY_GOAL_AT_P50}x at p50`,
    },
    { metric: "latency p90 (ms)", secured: a.sequential.p90, bare: b.sequential.p90, digits: 3, goal: "" },
    { metric: "latency p99 (ms)", secured: a.sequential.p99, bare: b.sequential.p99, digits: 3, goal: "" },
    { metric: "latency mean (ms)", secured: a.sequential.mean, bare: b.sequential.mean, digits: 3, goal: "" },
    {
      metric: `p50 with ${workers} workers (ms)`,
      secured: a.concurrent.p50,
      bare: b.concurrent.p50,
      digits: 3,
      goal: "",
    },
    {
      metric: `p99 with ${workers} workers (ms)`,
      secured: a.concurrent.p99,
      bare: b.concurrent.p99,
      digits: 3,
      goal: "",
    },
    {
      metric: `throughput, ${workers} workers (req/s)`,
      secured: a.requestsPerSecond,
      bare: b.requestsPerSecond,
      digits: 0,
      goal: "",
    },
    {
      metric: "DB round trips / request",
      secured: r.roundTrips.secured.perRequest,
      bare: r.roundTrips.bare.perRequest,
      digits: 2,
      goal: `${ROUND_TRIP_GOAL} (secured)`,
    },
    {
      metric: "DB round trips, first request",
      secured: r.roundTrips.secured.firstRequest,
      bare: r.roundTrips.bare.firstRequest,
      digits: 0,
      goal: "",
    },
  ];
}

const HEADER = ["metric", "A secured", "B bare", "A/B", "goal"];

function cells(row: Row): string[] {
  return [
    row.metric,
    row.secured.toFixed(row.digits),
    row.bare.toFixed(row.digits),
    `${(row.secured / row.bare).toFixed(2)}x`,
    row.goal,
  ];
}

function verdicts(r: BenchResults): string[] {
  const p50Ratio = r.latency.secured.sequential.p50 / r.latency.bare.sequential.p50;
  const rt = r.roundTrips.secured.perRequest;
  return [
    `p50 ratio ${p50Ratio.toFixed(2)}x: goal ≤ ${LATENCY_GOAL_AT_P50}x at p50 ${
      p50Ratio <= LATENCY_GOAL_AT_P50 ? "met" : "NOT met"
    }`,
    `secured round trips ${rt.toFixed(2)} per request: goal ${ROUND_TRIP_GOAL} ${
      rt <= ROUND_TRIP_GOAL ? "met" : "NOT met"
    }`,
  ];
}

export function formatTable(r: BenchResults): string {
  const table = [HEADER, ...rows(r).map(cells)];
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
    ...table.slice(1).map(line),
    "",
    ...verdicts(r),
    "",
    `latency: ${r.method.latency}`,
    `round trips: ${r.method.roundTrips}`,
  ].join("\n");
}

export function formatMarkdown(r: BenchResults): string {
  const row = (values: string[]) => `| ${values.join(" | ")} |`;
  const env = Object.entries(r.environment).map(([k, v]) => `${k} ${v}`).join(", ");
  const config = Object.entries(r.config).map(([k, v]) => `${k}=${v}`).join(", ");
  return [
    "# Bench: secured GET /v1/user/{id} against a bare baseline",
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
    ...rows(r).map((x) => row(cells(x))),
    "",
    ...verdicts(r).map((v) => `- ${v}`),
    "",
    `Latency: ${r.method.latency}`,
    "",
    `Round trips: ${r.method.roundTrips}`,
    "",
  ].join("\n");
}

export function toJson(r: BenchResults): unknown {
  const ratioOf = (a: number, b: number) => round(a / b, 3);
  return {
    timestamp: r.timestamp,
    environment: r.environment,
    config: r.config,
    requests: r.requests,
    method: r.method,
    goals: {
      latencyP50Ratio: {
        goal: `<= ${LATENCY_GOAL_AT_P50}`,
        value: ratioOf(r.latency.secured.sequential.p50, r.latency.bare.sequential.p50),
        met: r.latency.secured.sequential.p50 / r.latency.bare.sequential.p50 <= LATENCY_GOAL_AT_P50,
      },
      securedRoundTripsPerRequest: {
        goal: `<= ${ROUND_TRIP_GOAL}`,
        value: round(r.roundTrips.secured.perRequest, 3),
        met: r.roundTrips.secured.perRequest <= ROUND_TRIP_GOAL,
      },
    },
    metrics: rows(r).map((x) => ({
      metric: x.metric,
      secured: round(x.secured, x.digits + 1),
      bare: round(x.bare, x.digits + 1),
      ratio: ratioOf(x.secured, x.bare),
      goal: x.goal || null,
    })),
    latency: roundDeep(r.latency),
    roundTrips: roundDeep(r.roundTrips),
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
