/**
 * `deno task test`: every test on PGlite and on a real PostgreSQL server.
 * Uses DATABASE_URL's server when given, otherwise starts a throwaway one;
 * prepares a template database once (bootstrap + migrations) that each
 * PostgreSQL test copies; after the whole suite, audits the logs it produced
 * for PHI and secrets (tests/log_audit.after-suite.ts); prints the count per
 * driver at the end.
 */
import { type PostgresServer, prepareTemplate, startPostgresServer } from "./helpers/postgres-server.ts";

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
  await prepareTemplate(adminUrl, TEMPLATE);

  const junit = Deno.env.get("TEST_JUNIT_PATH") ?? await Deno.makeTempFile({ suffix: ".xml" });
  const auditDir = await Deno.makeTempDir({ prefix: "consultorio-log-audit-" });
  const wholeSuite = !Deno.args.some((a) => !a.startsWith("-"));
  const env = { TEST_PG_URL: adminUrl, TEST_PG_TEMPLATE: TEMPLATE, TEST_LOG_AUDIT_DIR: auditDir };
  code = await denoTest(env, junit, ...Deno.args, ...(wholeSuite ? ["tests/"] : []));
  let reports = await Deno.readTextFile(junit).catch(() => "");
  if (wholeSuite) {
    const auditJunit = await Deno.makeTempFile({ suffix: ".xml" });
    const auditCode = await denoTest(env, auditJunit, "tests/log_audit.after-suite.ts");
    code ||= auditCode;
    reports += await Deno.readTextFile(auditJunit).catch(() => "");
  } else {
    console.log("log audit: skipped (it audits the whole suite's logs)");
  }
  await Deno.remove(auditDir, { recursive: true });
  printSummary(reports);
  if (code !== 0) {
    console.log("deno test failed: see FAILURES and ERRORS above (an uncaught error fails a file)");
  }
} finally {
  await server?.stop();
}
Deno.exit(code);

async function denoTest(env: Record<string, string>, junit: string, ...args: string[]): Promise<number> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", `--junit-path=${junit}`, ...args],
    env,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return result.code;
}

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
