/**
 * The pgTAP files of supabase/tests/database/ (what `supabase test db` runs on
 * Supabase), on the PostgreSQL leg of `deno task test`: each file runs against
 * a fresh database copied from the template (bootstrap + migrations), after
 * 00_test_helpers.test.sql (as `supabase test db` would have run it first in
 * its one database), and becomes one test, `pgTAP <file> [postgres]`, with a step per TAP assertion.
 * A test fails on any `not ok` (a TODO's `not ok` is a known, reported hole:
 * its step is ignored, as TAP and pg_prove treat it), on a missing plan or a
 * plan that does not match the assertions run, and on any SQL error.
 *
 * PostgreSQL only: pgTAP is a server extension (Debian's postgresql-15-pgtap,
 * which .ci/run installs) that PGlite does not ship, so these files do not run
 * on PGlite. On a server without pgTAP the tests fail, saying what to install.
 *
 * The files run through psql, as pg_prove runs them; without psql, through
 * postgres.js (one simple-protocol query on one reserved connection).
 * PGTAP_CLIENT=psql|postgres.js picks one.
 */
import postgres from "postgres";

const PG_URL = Deno.env.get("TEST_PG_URL");
const PG_TEMPLATE = Deno.env.get("TEST_PG_TEMPLATE");
const TESTS_DIR = new URL("../supabase/tests/database/", import.meta.url);
const FILE_TIMEOUT_MS = 120_000;

// ---------------------------------------------------------------------------
// TAP
// ---------------------------------------------------------------------------

interface TapAssertion {
  number: number;
  ok: boolean;
  description: string;
  directive?: { kind: "TODO" | "SKIP"; reason: string };
  diagnostics: string[];
}

interface TapResult {
  plan?: number;
  assertions: TapAssertion[];
  /** Diagnostics before the first assertion or after the last one's own (e.g. finish()'s). */
  notes: string[];
}

/** Parses TAP version 12/13 as pgTAP prints it; lines that are not TAP are ignored. */
function parseTap(output: string): TapResult {
  const result: TapResult = { assertions: [], notes: [] };
  let last: TapAssertion | undefined;
  for (const raw of output.split(/\r?\n/)) {
    const line = raw.trimEnd();
    const plan = /^1\.\.(\d+)\b/.exec(line);
    if (plan) {
      result.plan = Number(plan[1]);
      last = undefined;
      continue;
    }
    const test = /^(not )?ok\b\s*(\d+)?\s*(?:- )?(.*)$/.exec(line);
    if (test) {
      let description = test[3];
      let directive: TapAssertion["directive"];
      const hash = /\s#\s*(TODO|SKIP)\b\s*(.*)$/i.exec(description);
      if (hash) {
        directive = { kind: hash[1].toUpperCase() as "TODO" | "SKIP", reason: hash[2] };
        description = description.slice(0, hash.index);
      }
      last = {
        number: test[2] ? Number(test[2]) : result.assertions.length + 1,
        ok: !test[1],
        description: description.replaceAll("\\#", "#").trim(),
        directive,
        diagnostics: [],
      };
      result.assertions.push(last);
      continue;
    }
    const diag = /^#\s?(.*)$/.exec(line);
    if (diag) {
      // "# Looks like ..." is finish()'s summary, not the last assertion's.
      if (last && !/^Looks like /.test(diag[1])) last.diagnostics.push(diag[1]);
      else result.notes.push(diag[1]);
    }
  }
  return result;
}

/** Whether an assertion counts as a failure (a failing TODO does not). */
function failed(a: TapAssertion): boolean {
  return !a.ok && a.directive?.kind !== "TODO";
}

/** What is wrong with a file's run as a whole: plan, numbering, the SQL error. */
function fileProblems(tap: TapResult, error?: string): string[] {
  const problems: string[] = [];
  if (error) problems.push(`the SQL stopped with an error:\n${error}`);
  if (tap.plan === undefined) problems.push("no plan (select plan(N)) in the output");
  else if (tap.plan !== tap.assertions.length) {
    problems.push(`planned ${tap.plan} assertions but ran ${tap.assertions.length}`);
  }
  tap.assertions.forEach((a, i) => {
    if (a.number !== i + 1) problems.push(`assertion ${i + 1} is numbered ${a.number}`);
  });
  return problems;
}

// ---------------------------------------------------------------------------
// Running a file
// ---------------------------------------------------------------------------

function findPsql(): string | undefined {
  const candidates = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean).map((dir) => `${dir}/psql`);
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")].map((e) => e.name).sort().reverse();
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin/psql`));
  } catch { /* no Debian layout */ }
  return candidates.find((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });
}

interface FileRun {
  output: string;
  /** The SQL error that stopped the file, if one did. */
  error?: string;
}

async function runWithPsql(psql: string, url: string, file: string): Promise<FileRun> {
  const out = await new Deno.Command(psql, {
    args: ["-X", "-q", "-t", "-A", "-P", "pager=off", "-v", "ON_ERROR_STOP=1", "-f", file, "-d", url],
    env: { PGCONNECT_TIMEOUT: "10", PGAPPNAME: "pgtap.test.ts" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(FILE_TIMEOUT_MS),
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  const stderr = decode(out.stderr).trim();
  return {
    output: decode(out.stdout),
    error: out.success ? undefined : stderr || `psql exited with code ${out.code}`,
  };
}

function flattenRows(value: unknown, lines: string[]) {
  if (Array.isArray(value)) { for (const item of value) flattenRows(item, lines); }
  else if (value && typeof value === "object") {
    for (const cell of Object.values(value)) if (cell !== null) lines.push(String(cell));
  }
}

async function runWithPostgresJs(url: string, file: string): Promise<FileRun> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  const connection = await sql.reserve();
  try {
    const results = await connection.unsafe(await Deno.readTextFile(file)).simple();
    const lines: string[] = [];
    flattenRows(results, lines);
    return { output: lines.join("\n") };
  } catch (error) {
    // The simple protocol answers a script as a whole: the TAP of the
    // statements before the error is lost, the error says where it stopped.
    const e = error as { message?: string; code?: string; where?: string };
    return {
      output: "",
      error: `${e.code ?? ""} ${e.message ?? String(error)}${e.where ? `\n${e.where}` : ""}`,
    };
  } finally {
    connection.release();
    await sql.end();
  }
}

const HELPERS_FILE = "00_test_helpers.test.sql";

/**
 * Runs `file` on a fresh copy of the template database, which is dropped
 * afterwards; the test helpers are installed first, except for their own file.
 */
async function runOnFreshDatabase(file: string): Promise<FileRun> {
  if (!PG_URL || !PG_TEMPLATE) throw new Error("TEST_PG_URL is not set: run the tests with `deno task test`");
  const name = `t_${crypto.randomUUID().replaceAll("-", "")}`;
  const admin = postgres(PG_URL, { max: 1, onnotice: () => {} });
  try {
    const [server] = await admin<{ major: string; pgtap: boolean }[]>`
      select current_setting('server_version_num')::int / 10000 as major,
             exists (select 1 from pg_available_extensions where name = 'pgtap') as pgtap`;
    if (!server.pgtap) {
      throw new Error(
        `pgTAP is not installed on the PostgreSQL server of the tests (PostgreSQL ${server.major}): ` +
          `install it (Debian: apt-get install postgresql-${server.major}-pgtap, as .ci/run does). ` +
          "These tests fail rather than skip: CI installs it.",
      );
    }
    await admin.unsafe(`create database ${name} template ${PG_TEMPLATE}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  try {
    const choice = Deno.env.get("PGTAP_CLIENT");
    const psql = choice === "postgres.js" ? undefined : findPsql();
    if (choice === "psql" && !psql) throw new Error("PGTAP_CLIENT=psql but psql was not found");
    const run = (path: string) =>
      psql ? runWithPsql(psql, url.toString(), path) : runWithPostgresJs(url.toString(), path);
    if (!file.endsWith(`/${HELPERS_FILE}`)) {
      const helpers = await run(new URL(HELPERS_FILE, TESTS_DIR).pathname);
      if (helpers.error) throw new Error(`${HELPERS_FILE} failed: ${helpers.error}`);
    }
    return await run(file);
  } finally {
    const admin = postgres(PG_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
    await admin.end();
  }
}

// ---------------------------------------------------------------------------
// One test per file, one step per assertion
// ---------------------------------------------------------------------------

function stepName(a: TapAssertion): string {
  const base = `${a.number} - ${a.description}`;
  if (!a.directive) return base;
  const { kind, reason } = a.directive;
  if (kind === "TODO" && a.ok) return `${base} # TODO ${reason} (passes now: drop the todo)`;
  return `${base} # ${kind} ${reason}`;
}

const files = (() => {
  try {
    return [...Deno.readDirSync(TESTS_DIR)]
      .filter((e) => e.isFile && e.name.endsWith(".sql"))
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
})();

Deno.test({
  name: "pgTAP: supabase/tests/database holds the RLS matrix",
  fn() {
    if (files.length === 0) throw new Error(`no *.sql file in ${TESTS_DIR.pathname}`);
  },
});

for (const file of files) {
  Deno.test({
    name: `pgTAP ${file} [postgres]`,
    ignore: !PG_URL || !PG_TEMPLATE,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const run = await runOnFreshDatabase(new URL(file, TESTS_DIR).pathname);
      const tap = parseTap(run.output);
      for (const a of tap.assertions) {
        await t.step({
          name: stepName(a),
          ignore: a.directive?.kind === "SKIP" || (a.directive?.kind === "TODO" && !a.ok),
          fn() {
            if (failed(a)) {
              throw new Error(`not ok ${a.number} - ${a.description}\n${a.diagnostics.join("\n")}`);
            }
          },
        });
      }
      const problems = fileProblems(tap, run.error);
      const failures = tap.assertions.filter(failed);
      if (problems.length || failures.length) {
        throw new Error(
          [
            `${file}: ${failures.length} failing assertion(s)`,
            ...problems,
            ...tap.notes.map((n) => `# ${n}`),
          ].join("\n"),
        );
      }
    },
  });
}
