/**
 * Prepares a database the way `supabase start` + `supabase db reset` would:
 * the bootstrap (what Supabase provides), then every migration not yet
 * applied, recorded in supabase_migrations.schema_migrations like the
 * Supabase CLI does, then the seed on a database that was empty.
 */
import type { Database } from "../../shared/db/database.ts";

const SUPABASE_DIR = new URL("../", import.meta.url);

export interface Migration {
  version: string;
  name: string;
  sql: string;
}

export async function readMigrations(dir = new URL("migrations/", SUPABASE_DIR)): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const match = /^(\d{14})_(.+)\.sql$/.exec(entry.name);
    if (!entry.isFile || !match) continue;
    migrations.push({
      version: match[1],
      name: match[2],
      sql: await Deno.readTextFile(new URL(entry.name, dir)),
    });
  }
  return migrations.sort((a, b) => a.version.localeCompare(b.version));
}

export interface PrepareResult {
  applied: string[];
  seeded: boolean;
}

export async function prepareDatabase(
  db: Database,
  options: { seed?: boolean } = {},
): Promise<PrepareResult> {
  await db.execScript(await Deno.readTextFile(new URL("local/bootstrap.sql", SUPABASE_DIR)));
  await db.execScript(`
    create schema if not exists supabase_migrations;
    create table if not exists supabase_migrations.schema_migrations (
      version text primary key,
      statements text[],
      name text
    );`);

  const done = new Set(
    (await db.queryAsOwner<{ version: string }>(
      "select version from supabase_migrations.schema_migrations",
    )).map((r) => r.version),
  );
  const wasEmpty = done.size === 0;
  const applied: string[] = [];
  for (const migration of await readMigrations()) {
    if (done.has(migration.version)) continue;
    await db.execScript(
      `begin;\n${migration.sql}\n;insert into supabase_migrations.schema_migrations (version, name)
       values ('${migration.version}', '${migration.name.replaceAll("'", "''")}');\ncommit;`,
    );
    applied.push(`${migration.version}_${migration.name}`);
  }

  let seeded = false;
  if (options.seed && wasEmpty) {
    await db.execScript(await Deno.readTextFile(new URL("seed.sql", SUPABASE_DIR)));
    seeded = true;
  }
  return { applied, seeded };
}
