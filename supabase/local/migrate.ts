/**
 * Prepares a database the way `supabase start` + `supabase db reset` would:
 * the bootstrap (what Supabase provides), then every migration not yet
 * applied, recorded in supabase_migrations.schema_migrations like the
 * Supabase CLI does, then the seed on a database that was empty.
 *
 * On Supabase the migrations and the seed run as `postgres`, which is not a
 * superuser. Where the bootstrap could make it so (a server whose superuser
 * has another name), they run here as `postgres` too (`set local role`), so a
 * migration that needs more fails locally as it would on Supabase. There
 * supautils (its `policy_grants`) also lets `postgres` create, alter and drop
 * policies on some tables it does not own, by running that one statement as
 * the superuser; this runner does the same for the two tables Consultorio
 * writes policies on, storage.objects and realtime.messages: such a
 * statement, and only it, runs as the connection's superuser. Anything else
 * on a Supabase-owned object fails as `postgres`.
 * PGlite's only user is a superuser: there everything runs as it.
 */
import type { Database } from "../../shared/db/database.ts";
import { splitStatements, stripComments } from "./sql-statements.ts";

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

/** The tables `postgres` may write policies on although it does not own them (supautils.policy_grants). */
const POLICY_GRANTS = new Set(["storage.objects", "realtime.messages"]);

const POLICY_STATEMENT =
  /^\s*(?:create|alter|drop)\s+policy\s+(?:if\s+exists\s+)?(?:"(?:[^"]|"")*"|[\w$]+)\s+on\s+(?:only\s+)?("?\w+"?\s*\.\s*"?\w+"?)\s/i;

/** Whether the statement creates, alters or drops a policy on a table of POLICY_GRANTS. */
export function isGrantedPolicyStatement(statement: string): boolean {
  const table = POLICY_STATEMENT.exec(stripComments(statement) + " ")?.[1];
  return table !== undefined && POLICY_GRANTS.has(table.replace(/["\s]/g, "").toLowerCase());
}

/**
 * The script that applies `sql` in the current transaction as `postgres`:
 * every statement as `postgres`, but a policy statement on a table of
 * POLICY_GRANTS as the connection's superuser (`role none`), as supautils does.
 */
export function asPostgres(sql: string): string {
  const statements = splitStatements(sql).map((statement) => {
    if (switchesRole(statement)) {
      throw new Error(`a migration may not change its role (it runs as postgres): ${statement.trim()}`);
    }
    return isGrantedPolicyStatement(statement)
      ? `set local role none;\n${statement};\nset local role postgres`
      : statement;
  });
  return ["set local role postgres", ...statements, "reset role"].join(";\n") + ";";
}

/**
 * A statement, or a `do` block, that changes the current role: connected as
 * the superuser, `reset role` would leave `postgres` behind. (A function's
 * body runs later, as its caller: start_request's set_config('role') is fine.)
 */
function switchesRole(statement: string): boolean {
  const text = stripComments(statement);
  const roleChange =
    /\b(?:set|reset)\s+(?:local\s+|session\s+)?(?:role|session\s+authorization)\b|set_config\s*\(\s*'(?:role|session_authorization)'/i;
  return /^\s*(?:set|reset|do)\b/i.test(text) && roleChange.test(text);
}

/** Whether the migrations run as a non-superuser `postgres`: the connection is a superuser, and `postgres` is not. */
async function runsAsPostgres(db: Database): Promise<boolean> {
  const [row] = await db.queryAsOwner<{ as_postgres: boolean }>(
    `select (select rolsuper from pg_roles where rolname = current_user)
        and not (select rolsuper from pg_roles where rolname = 'postgres') as as_postgres`,
  );
  return row.as_postgres === true;
}

export async function bootstrap(db: Database): Promise<void> {
  await db.execScript(await Deno.readTextFile(new URL("local/bootstrap.sql", SUPABASE_DIR)));
}

/** Applies one migration in a transaction of its own and records it, as `postgres` where it can. */
export async function applyMigration(db: Database, migration: Migration, postgresRole?: boolean) {
  const asRole = postgresRole ?? await runsAsPostgres(db);
  const record = `insert into supabase_migrations.schema_migrations (version, name)
       values ('${migration.version}', '${migration.name.replaceAll("'", "''")}')`;
  const body = asRole ? asPostgres(`${migration.sql}\n;${record}`) : `${migration.sql}\n;${record};`;
  await db.execScript(`begin;\n${body}\ncommit;`);
}

export interface PrepareResult {
  applied: string[];
  seeded: boolean;
}

export async function prepareDatabase(
  db: Database,
  options: { seed?: boolean } = {},
): Promise<PrepareResult> {
  await bootstrap(db);
  const postgresRole = await runsAsPostgres(db);
  const ledger = `
    create schema if not exists supabase_migrations;
    create table if not exists supabase_migrations.schema_migrations (
      version text primary key,
      statements text[],
      name text
    );`;
  await db.execScript(postgresRole ? `begin;\n${asPostgres(ledger)}\ncommit;` : ledger);

  const done = new Set(
    (await db.queryAsOwner<{ version: string }>(
      "select version from supabase_migrations.schema_migrations",
    )).map((r) => r.version),
  );
  const wasEmpty = done.size === 0;
  const applied: string[] = [];
  for (const migration of await readMigrations()) {
    if (done.has(migration.version)) continue;
    await applyMigration(db, migration, postgresRole);
    applied.push(`${migration.version}_${migration.name}`);
  }

  let seeded = false;
  if (options.seed && wasEmpty) {
    const seed = await Deno.readTextFile(new URL("seed.sql", SUPABASE_DIR));
    await db.execScript(postgresRole ? `begin;\n${asPostgres(seed)}\ncommit;` : seed);
    seeded = true;
  }
  return { applied, seeded };
}
