/**
 * `deno task fuzz`: the full schema fuzzing run, 10,000 generated requests
 * (or --runs=N) against the local stack on a throwaway PostgreSQL server
 * (or --driver=pglite, or the server of DATABASE_URL). Exits non-zero on the
 * first finding, printed with the seed that reproduces it (--seed=N).
 */
import { parseArgs } from "node:util";
import { type PostgresServer, prepareTestStacks, startPostgresServer } from "../helpers/postgres-server.ts";
import { startTestStack } from "../helpers/stack.ts";
import { fuzz } from "./run-fuzz.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "10000" },
    seed: { type: "string" },
    driver: { type: "string", default: "postgres" },
  },
});
const driver = values.driver === "pglite" ? "pglite" : "postgres";
const seed = values.seed ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);

let server: PostgresServer | undefined;
if (driver === "postgres") {
  let adminUrl = Deno.env.get("DATABASE_URL");
  if (!adminUrl) {
    server = await startPostgresServer();
    adminUrl = server.url;
  }
  await prepareTestStacks(adminUrl, "consultorio_fuzz_template");
}

const s = await startTestStack(driver);
const started = performance.now();
let failed = true;
try {
  const report = await fuzz(s, { numRuns: Number(values.runs), seed });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `fuzz on ${driver}, seed ${seed}: ${report.requests} requests over ${report.operations} operations ` +
      `in ${seconds.toFixed(0)} s`,
  );
  console.log("answers by status:", JSON.stringify(report.byStatus));
  console.log("requests by fault:");
  for (const [fault, count] of Object.entries(report.byFault).sort()) console.log(`  ${fault}: ${count}`);
  if (report.renewedSessions.length > 0) console.log("sessions renewed after:", report.renewedSessions);
  if (report.failure) {
    console.error(`\nFINDING (rerun with --seed=${seed}):\n${report.failure}`);
  } else {
    console.log(
      "0 responses 5xx; every 4xx a ProblemDetails naming the field at fault; no refused request wrote",
    );
    failed = false;
  }
} finally {
  await s.close();
  await server?.stop();
}
Deno.exit(failed ? 1 : 0);
