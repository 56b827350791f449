/**
 * Rules of the code base that a review could miss: the privileged path stays
 * in *.privileged.ts files, handlers never import an SDK, and every table of
 * the migrations has row-level security enabled.
 */
import { assert } from "./helpers/std.ts";

const ROOT = new URL("../", import.meta.url);

async function* files(dir: URL, suffix: string): AsyncGenerator<[string, string]> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* files(url, suffix);
    else if (entry.name.endsWith(suffix)) yield [url.pathname, await Deno.readTextFile(url)];
  }
}

Deno.test("code rules: privileged database access lives only in *.privileged.ts", async () => {
  const offenders: string[] = [];
  for (const dir of ["shared/", "functions/"]) {
    for await (const [path, text] of files(new URL(dir, ROOT), ".ts")) {
      if (path.endsWith(".privileged.ts") || path.includes("/shared/db/")) continue;
      if (/\.asService\(|queryAsOwner\(|execScript\(/.test(text)) offenders.push(path);
    }
  }
  assert(offenders.length === 0, `privileged calls outside *.privileged.ts: ${offenders.join(", ")}`);
});

Deno.test("code rules: handlers and routes import no SDK of an outside service", async () => {
  const offenders: string[] = [];
  for await (const [path, text] of files(new URL("shared/modules/", ROOT), ".ts")) {
    if (/from\s+"(twilio|openai|livekit-server-sdk|@supabase\/supabase-js)"/.test(text)) offenders.push(path);
  }
  assert(offenders.length === 0, offenders.join(", "));
});

Deno.test("code rules: the FHIR validator (@medplum/*) is imported from tests/ only", async () => {
  const offenders: string[] = [];
  for (const dir of ["shared/", "functions/", "supabase/", "bench/"]) {
    for await (const [path, text] of files(new URL(dir, ROOT), ".ts")) {
      if (/from\s+"@medplum\//.test(text)) offenders.push(path);
    }
  }
  assert(offenders.length === 0, `@medplum imported outside tests/: ${offenders.join(", ")}`);
});

Deno.test("code rules: every table created by a migration enables row-level security", async () => {
  const missing: string[] = [];
  for await (const [, sql] of files(new URL("supabase/migrations/", ROOT), ".sql")) {
    for (const [, table] of sql.matchAll(/create table (?:if not exists )?([a-z_]+\.[a-z_]+)/gi)) {
      const enabled = new RegExp(`alter table ${table.replace(".", "\\.")} enable row level security`, "i");
      if (!enabled.test(sql)) missing.push(table);
    }
  }
  assert(missing.length === 0, `tables without RLS: ${missing.join(", ")}`);
});
