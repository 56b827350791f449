/**
 * `deno task test`: every test on PGlite and on a real PostgreSQL server.
 * Uses DATABASE_URL's server when given, otherwise starts a throwaway one;
 * prepares a template database once (bootstrap + migrations) that each
 * PostgreSQL test copies; prints the count per driver at the end.
 */
import postgres from "postgres";
import { createPostgresDatabase } from "../shared/db/postgres.ts";
import { prepareDatabase } from "../supabase/local/migrate.ts";
import { type PostgresServer, startPostgresServer } from "./helpers/postgres-server.ts";

const TEMPLATE = "consultorio_test_template";

let server: PostgresServer | undefined;
let adminUrl = Deno.env.get("DATABASE_URL");
if (adminUrl) {
  console.log("PostgreSQL leg: the server of DATABASE_URL");
} else {
  server = await startPostgresServer();
  adminUrl = server.url;
  console.log(`PostgreSQL leg: a throwaway server on 127.0.0.1:${server.port}`);
}

let code = 1;
try {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${TEMPLATE}`);
  await admin.unsafe(`create database ${TEMPLATE}`);
  await admin.end();
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${TEMPLATE}`;
  const db = createPostgresDatabase({ url: templateUrl.toString(), poolSize: 1 });
  await prepareDatabase(db, { seed: false });
  await db.close();

  const junit = Deno.env.get("TEST_JUNIT_PATH") ?? await Deno.makeTempFile({ suffix: ".xml" });
  const args = ["test", "-A", `--junit-path=${junit}`, ...Deno.args];
  if (!Deno.args.some((a) => !a.startsWith("-"))) args.push("tests/");
  const result = await new Deno.Command(Deno.execPath(), {
    args,
    env: { TEST_PG_URL: adminUrl, TEST_PG_TEMPLATE: TEMPLATE },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  code = result.code;
  printSummary(await Deno.readTextFile(junit).catch(() => ""));
} finally {
  await server?.stop();
}
Deno.exit(code);

/** Per-driver counts from the JUnit report (tests, and the steps inside them), and the closing line. */
function printSummary(xml: string) {
  type Count = { passed: number; failed: number; skipped: number };
  const zero = (): Count => ({ passed: 0, failed: 0, skipped: 0 });
  const counts = new Map<string, { tests: Count; steps: Count }>();
  const all = zero();
  for (const match of xml.matchAll(/<testcase name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const name = match[1];
    const driver = /\[(pglite|postgres)\]/.exec(name)?.[1] ?? "either";
    const body = match[3] ?? "";
    const entry = counts.get(driver) ?? { tests: zero(), steps: zero() };
    const bucket = name.includes(" &gt; ") ? entry.steps : entry.tests;
    const outcome = /<failure/.test(body) ? "failed" : /<skipped/.test(body) ? "skipped" : "passed";
    bucket[outcome]++;
    all[outcome]++;
    counts.set(driver, entry);
  }
  console.log("\nTests per driver (steps are the behaviours inside a test):");
  for (const [driver, { tests, steps }] of [...counts].sort()) {
    console.log(
      `  ${
        driver.padEnd(8)
      } tests: ${tests.passed} passed, ${tests.failed} failed, ${tests.skipped} skipped;` +
        ` steps: ${steps.passed} passed, ${steps.failed} failed`,
    );
  }
  console.log(`tests and steps: ${all.passed} passed, ${all.failed} failed, ${all.skipped} skipped`);
}
