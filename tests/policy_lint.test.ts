/**
 * A lint of the row-level security the migrations leave in a real database
 * (the catalog, not the SQL text): on PGlite in this process, and on a fresh
 * copy of the PostgreSQL template when `deno task test` runs the server leg.
 *
 *   - auth.uid(), auth.jwt() (and the other auth.* helpers, the zero-argument
 *     app.* helpers, current_setting()) are called inside a sub-select in
 *     every policy, so PostgreSQL evaluates them once per statement (an
 *     initPlan), not once per row: Supabase's linter rule auth_rls_initplan.
 *     pg_policies shows a wrapped call as `( SELECT auth.uid() AS uid)`.
 *   - every policy names its roles: none applies to PUBLIC (anon included).
 *   - every ordinary table of public, private, app, storage and realtime
 *     enables row-level security.
 *   - every column a policy compares with `(select auth.uid())` to find rows
 *     (in USING, or in a with-check's sub-select), and the columns the
 *     policies' helpers filter on, lead an index.
 *
 * And, in our own schemas (public, private, app), what Supabase's Security
 * and Performance Advisor (splinter) warns of:
 *
 *   - every function sets its search_path (function_search_path_mutable).
 *   - at most one permissive policy per table, role and action: PostgreSQL
 *     evaluates each of them for every row (multiple_permissive_policies).
 *   - every foreign key's columns lead an index (unindexed_foreign_keys).
 */
import type { Database } from "../shared/db/database.ts";
import { createPGliteDatabase } from "../supabase/local/pglite.ts";
import { createPostgresDatabase } from "../shared/db/postgres.ts";
import { prepareDatabase } from "../supabase/local/migrate.ts";
import { createScratchDatabase } from "./helpers/postgres-server.ts";
import { assert, assertEquals } from "./helpers/std.ts";

const PG_URL = Deno.env.get("TEST_PG_URL");
const PG_TEMPLATE = Deno.env.get("TEST_PG_TEMPLATE");

/** The migrations' own schemas (storage.objects and realtime.messages are Supabase's, as splinter treats them). */
const OUR_SCHEMAS = ["public", "private", "app"];

/** The schemas whose ordinary tables must enable row-level security. */
const RLS_SCHEMAS = ["public", "private", "app", "storage", "realtime"];

/**
 * Columns the policies filter on by the caller's id, directly or through the
 * helpers they call (app.my_patient_ids() reads appointments.doctor_id and
 * patients.created_by): each must lead an index, or every policy check scans.
 */
const POLICY_COLUMNS: [table: string, column: string][] = [
  ["public.users", "id"],
  ["public.appointments", "doctor_id"],
  ["public.appointments", "patient_id"],
  ["public.clinic_histories", "patient_id"],
  ["public.clinic_histories", "doctor_id"],
  ["public.patient_antecedents", "patient_id"],
  ["public.doctor_weekly_hours", "doctor_id"],
  ["public.doctor_availability_exceptions", "doctor_id"],
  ["public.patients", "id"],
  ["public.patients", "created_by"],
  ["public.consultations", "doctor_id"],
  ["public.consultations", "patient_id"],
  ["public.consultation_messages", "consultation_id"],
  ["public.consultation_messages", "sender_id"],
  ["public.consultation_files", "consultation_id"],
  ["public.consultation_files", "uploaded_by"],
  ["public.conversation_participants", "conversation_id"],
  ["public.conversation_participants", "user_id"],
  ["public.video_rooms", "consultation_id"],
  ["public.consultation_observers", "consultation_id"],
  ["public.consultation_observers", "user_id"],
  ["public.recording_consents", "consultation_id"],
  ["public.consultation_recordings", "consultation_id"],
  ["public.video_participants", "consultation_id"],
  ["public.chat_messages", "conversation_id"],
  ["public.chat_messages", "sender_id"],
  ["public.chat_message_reads", "conversation_id"],
  ["public.chat_message_reads", "user_id"],
  ["public.chat_files", "conversation_id"],
  ["public.chat_files", "uploaded_by"],
  ["public.chat_blocks", "blocker_id"],
  ["public.chat_blocks", "blocked_id"],
  ["public.chat_message_reports", "reported_by"],
  ["public.chat_message_reports", "conversation_id"],
  ["public.chat_video_calls", "conversation_id"],
  ["public.chat_video_calls", "started_by"],
  ["public.ai_conversations", "doctor_id"],
  ["public.ai_messages", "conversation_id"],
  ["public.whatsapp_messages", "sent_by"],
  ["public.fhir_source_identifiers", "patient_id"],
  ["public.fhir_source_identifiers", "created_by"],
  ["public.imported_vital_signs", "patient_id"],
  ["public.imported_vital_signs", "recorded_by"],
  ["public.appointment_reminders", "patient_id"],
];

interface Policy {
  schema: string;
  table: string;
  name: string;
  cmd: string;
  for_public: boolean;
  qual: string | null;
  with_check: string | null;
}

function label(p: Policy): string {
  return `${p.schema}.${p.table} "${p.name}" (${p.cmd})`;
}

function expressions(p: Policy): [string, string][] {
  const out: [string, string][] = [];
  if (p.qual) out.push(["using", p.qual]);
  if (p.with_check) out.push(["with check", p.with_check]);
  return out;
}

/**
 * The calls of `expr` that are evaluated per row: auth.*() and the
 * zero-argument app.*() helpers, and current_setting(), each not the whole
 * target of a sub-select (`( SELECT auth.uid() AS uid)`,
 * `( SELECT (auth.jwt() ->> 'x'::text))`).
 */
function unwrappedCalls(expr: string): string[] {
  const calls: string[] = [];
  const pattern = /\b(auth\.[a-z_]+\s*\(|app\.[a-z_]+\s*\(\s*\)|current_setting\s*\()/gi;
  for (const match of expr.matchAll(pattern)) {
    const before = expr.slice(0, match.index);
    if (!/\(\s*SELECT\s+\(*\s*$/i.test(before)) calls.push(match[1].replace(/\s+/g, ""));
  }
  return calls;
}

/**
 * The columns `expr` compares with `( SELECT auth.uid() AS uid)`, as
 * [schema.table, column]: unqualified ones are the policy's table's, aliases
 * of a sub-select's FROM/JOIN are resolved to their table.
 */
function uidColumns(expr: string, schema: string, table: string): [string, string][] {
  const aliases = new Map<string, string>();
  for (
    const m of expr.matchAll(
      /\b(?:FROM|JOIN)\s+(?:([a-z_][a-z0-9_]*)\.)?([a-z_][a-z0-9_]*)(?:\s+(?:AS\s+)?([a-z_][a-z0-9_]*))?/gi,
    )
  ) {
    const qualified = `${m[1] ?? schema}.${m[2]}`;
    aliases.set(m[2], qualified);
    if (m[3] && !/^(WHERE|JOIN|ON|LEFT|RIGHT|INNER|CROSS|GROUP|ORDER|LIMIT)$/i.test(m[3])) {
      aliases.set(m[3], qualified);
    }
  }
  const found: [string, string][] = [];
  const pattern =
    /(?:([a-z_][a-z0-9_]*)\.)?([a-z_][a-z0-9_]*)\s*=\s*\(\s*SELECT\s+auth\.uid\(\)\s+AS\s+uid\s*\)/gi;
  for (const m of expr.matchAll(pattern)) {
    const owner = m[1]
      ? aliases.get(m[1]) ?? (m[1] === table ? `${schema}.${table}` : `${schema}.${m[1]}`)
      : (
        `${schema}.${table}`
      );
    found.push([owner, m[2]]);
  }
  return found;
}

async function policies(db: Database): Promise<Policy[]> {
  return await db.queryAsOwner<Policy>(
    `select schemaname::text as schema, tablename::text as table, policyname::text as name, cmd::text as cmd,
            'public' = any (roles) as for_public, qual, with_check
       from pg_policies
      order by schemaname, tablename, policyname`,
  );
}

/** Whether `column` of `table` is the first column of a valid, non-partial index. */
async function leadsAnIndex(db: Database, table: string, column: string): Promise<boolean | undefined> {
  const [row] = await db.queryAsOwner<{ has_column: boolean; indexed: boolean }>(
    `select exists (
              select 1 from pg_attribute
               where attrelid = to_regclass($1) and attname = $2 and attnum > 0 and not attisdropped
            ) as has_column,
            exists (
              select 1
                from pg_index i
                join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
               where i.indrelid = to_regclass($1) and a.attname = $2 and i.indisvalid and i.indpred is null
            ) as indexed`,
    [table, column],
  );
  return row.has_column ? row.indexed : undefined;
}

/** Functions of `schemas` (not an extension's) without a search_path of their own. */
async function mutableSearchPathFunctions(db: Database, schemas: string[]): Promise<string[]> {
  const rows = await db.queryAsOwner<{ name: string }>(
    `select p.oid::regprocedure::text as name
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = any ($1::text[]) and p.prokind in ('f', 'p')
        and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
        and not exists (select 1 from unnest(p.proconfig) c where c like 'search\\_path=%')
      order by 1`,
    [schemas],
  );
  return rows.map((r) => r.name);
}

/** Each table, role and action of `schemas` with more than one permissive policy, and the policies. */
async function overlappingPermissivePolicies(db: Database, schemas: string[]): Promise<string[]> {
  const rows = await db.queryAsOwner<{ line: string }>(
    `with applied as (
       select c.oid::regclass::text as tbl, p.polname, a.action,
              case r.role when 0 then 'public' else pg_get_userbyid(r.role) end as role
         from pg_policy p
         join pg_class c on c.oid = p.polrelid
         join pg_namespace n on n.oid = c.relnamespace
         cross join lateral unnest(p.polroles) r(role)
         cross join lateral unnest(case p.polcmd when '*' then array['select', 'insert', 'update', 'delete']
           when 'r' then array['select'] when 'a' then array['insert'] when 'w' then array['update']
           else array['delete'] end) a(action)
        where p.polpermissive and n.nspname = any ($1::text[])
     )
     select format('%s, %s, %s: %s', tbl, role, action, string_agg(format('%I', polname), ', ' order by polname))
            as line
       from applied group by tbl, role, action having count(*) > 1 order by 1`,
    [schemas],
  );
  return rows.map((r) => r.line);
}

/** Foreign keys of `schemas` whose columns do not lead a valid, non-partial index. */
async function unindexedForeignKeys(db: Database, schemas: string[]): Promise<string[]> {
  const rows = await db.queryAsOwner<{ line: string }>(
    `select format('%s.%s (%s)', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)) as line
       from pg_constraint c
       join pg_class t on t.oid = c.conrelid
       join pg_namespace n on n.oid = t.relnamespace
      where c.contype = 'f' and n.nspname = any ($1::text[])
        and not exists (
          select 1 from pg_index i
           where i.indrelid = c.conrelid and i.indisvalid and i.indpred is null
             and (select array_agg(k order by k) from unnest((i.indkey::int2[])[0:cardinality(c.conkey) - 1]) k)
               = (select array_agg(k order by k) from unnest(c.conkey) k)
        )
      order by 1`,
    [schemas],
  );
  return rows.map((r) => r.line);
}

async function lint(t: Deno.TestContext, db: Database) {
  const all = await policies(db);

  await t.step("the migrations' policies are there to lint", () => {
    const own = all.filter((p) => p.schema === "public");
    assert(own.length >= 20, `only ${own.length} policies on schema public: is this database migrated?`);
  });

  await t.step(
    "auth.*() and app.*() helpers in policies are wrapped in a sub-select (auth_rls_initplan)",
    () => {
      const offenders = all.flatMap((p) =>
        expressions(p).flatMap(([clause, expr]) => {
          const calls = unwrappedCalls(expr);
          return calls.length ? [`${label(p)} ${clause}: ${calls.join(", ")} in ${expr}`] : [];
        })
      );
      assert(
        offenders.length === 0,
        `calls evaluated per row (write them as (select auth.uid())):\n${offenders.join("\n")}`,
      );
    },
  );

  await t.step("every policy names its roles (none applies to PUBLIC)", () => {
    const offenders = all.filter((p) => p.for_public).map(label);
    assert(offenders.length === 0, `policies without "to <role>":\n${offenders.join("\n")}`);
  });

  await t.step(`every table of ${RLS_SCHEMAS.join(", ")} enables row-level security`, async () => {
    const rows = await db.queryAsOwner<{ name: string }>(
      `select format('%I.%I', n.nspname, c.relname) as name
         from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p') and n.nspname = any ($1::text[]) and not c.relrowsecurity
          -- A partition (realtime.messages' days) is read through its parent's policies; only
          -- one the API roles may reach directly would need its own.
          and not (c.relispartition and not exists (
            select 1 from unnest(array['anon', 'authenticated']) r
             where has_table_privilege(r, c.oid, 'select, insert, update, delete')
          ))
        order by 1`,
      [RLS_SCHEMAS],
    );
    assert(rows.length === 0, `tables without row-level security: ${rows.map((r) => r.name).join(", ")}`);
  });

  await t.step("every column a policy compares with (select auth.uid()) leads an index", async () => {
    const uses = new Map<string, string[]>();
    for (const p of all) {
      for (const [clause, expr] of expressions(p)) {
        for (const [table, column] of uidColumns(expr, p.schema, p.table)) {
          // A with-check compares the new row itself: only its sub-selects scan.
          if (clause === "with check" && table === `${p.schema}.${p.table}`) continue;
          const key = `${table}.${column}`;
          uses.set(key, [...(uses.get(key) ?? []), label(p)]);
        }
      }
    }
    assert(uses.size >= 5, `found only ${uses.size} columns compared with (select auth.uid())`);
    const offenders: string[] = [];
    for (const [key, by] of uses) {
      const dot = key.lastIndexOf(".");
      const indexed = await leadsAnIndex(db, key.slice(0, dot), key.slice(dot + 1));
      if (indexed === undefined) offenders.push(`${key} (no such column?) used by ${by.join("; ")}`);
      else if (!indexed) offenders.push(`${key} leads no index; used by ${by.join("; ")}`);
    }
    assert(offenders.length === 0, offenders.join("\n"));
  });

  await t.step("the columns the policies and their helpers filter on lead an index", async () => {
    const offenders: string[] = [];
    for (const [table, column] of POLICY_COLUMNS) {
      const indexed = await leadsAnIndex(db, table, column);
      if (indexed === undefined) offenders.push(`${table}.${column}: no such column`);
      else if (!indexed) offenders.push(`${table}.${column} leads no index`);
    }
    assert(offenders.length === 0, offenders.join("\n"));
  });

  await t.step("every function of our schemas sets its search_path", async () => {
    const offenders = await mutableSearchPathFunctions(db, OUR_SCHEMAS);
    assert(offenders.length === 0, `functions without "set search_path":\n${offenders.join("\n")}`);
  });

  await t.step("one permissive policy at most per table, role and action", async () => {
    const offenders = await overlappingPermissivePolicies(db, OUR_SCHEMAS);
    assert(offenders.length === 0, `merge these into one policy each:\n${offenders.join("\n")}`);
  });

  await t.step("every foreign key's columns lead an index", async () => {
    const offenders = await unindexedForeignKeys(db, OUR_SCHEMAS);
    assert(offenders.length === 0, `foreign keys without an index:\n${offenders.join("\n")}`);
  });
}

async function openDatabase(
  driver: "pglite" | "postgres",
): Promise<{ db: Database; close(): Promise<void> }> {
  if (driver === "pglite") {
    const db = await createPGliteDatabase();
    await prepareDatabase(db, { seed: false });
    return { db, close: () => db.close() };
  }
  if (!PG_URL || !PG_TEMPLATE) throw new Error("TEST_PG_URL is not set: run the tests with `deno task test`");
  // A copy of the template: connecting to the template itself would block
  // the other tests' `create database ... template`.
  const copy = await createScratchDatabase(PG_URL, PG_TEMPLATE);
  const db = createPostgresDatabase({ url: copy.url, poolSize: 1 });
  return {
    db,
    async close() {
      await db.close();
      await copy.drop();
    },
  };
}

for (const driver of ["pglite", "postgres"] as const) {
  Deno.test({
    name: `policy lint: row-level security of the migrations [${driver}]`,
    ignore: driver === "postgres" && (!PG_URL || !PG_TEMPLATE),
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const { db, close } = await openDatabase(driver);
      try {
        await lint(t, db);
      } finally {
        await close();
      }
    },
  });
}

Deno.test("policy lint: the checks catch what they are for", () => {
  assert(unwrappedCalls("((id = ( SELECT auth.uid() AS uid)) AND (deleted_at IS NULL))").length === 0);
  assert(unwrappedCalls("( SELECT (auth.jwt() ->> 'user_role'::text))").length === 0);
  assert(unwrappedCalls("( SELECT app.is_admin() AS is_admin)").length === 0);
  assert(unwrappedCalls("(id IN ( SELECT app.my_patient_ids() AS my_patient_ids))").length === 0);
  assert(unwrappedCalls("( SELECT app.can_read_clinical_data(t.patient_id) AS c)").length === 0);
  assert(unwrappedCalls("(id = auth.uid())").join() === "auth.uid(");
  assert(unwrappedCalls("((auth.jwt() ->> 'user_role'::text) = 'admin'::text)").join() === "auth.jwt(");
  assert(unwrappedCalls("app.is_admin()").join() === "app.is_admin()");
  assert(
    unwrappedCalls("(x = current_setting('request.jwt.claims'::text, true))").join() === "current_setting(",
  );
  assert(
    unwrappedCalls("(EXISTS ( SELECT 1 FROM appointments a WHERE (a.doctor_id = auth.uid())))").join() ===
      "auth.uid(",
  );
  const nested = uidColumns(
    "((doctor_id = ( SELECT auth.uid() AS uid)) AND (EXISTS ( SELECT 1\n   FROM appointments a\n  WHERE " +
      "((a.id = clinic_histories.appointment_id) AND (a.doctor_id = ( SELECT auth.uid() AS uid))))))",
    "public",
    "clinic_histories",
  );
  assert(
    JSON.stringify(nested) ===
      JSON.stringify([["public.clinic_histories", "doctor_id"], ["public.appointments", "doctor_id"]]),
    JSON.stringify(nested),
  );
});

Deno.test("policy lint: the catalog checks catch what they are for", async () => {
  const db = await createPGliteDatabase();
  try {
    await db.execScript(`
      create role lint_probe_role nologin;
      create schema lint_probe;
      create table lint_probe.parent (id int primary key);
      create table lint_probe.child (
        id int primary key,
        parent_id int references lint_probe.parent (id),
        other_id int references lint_probe.parent (id),
        pair_a int, pair_b int,
        foreign key (pair_a) references lint_probe.parent (id)
      );
      create index on lint_probe.child (other_id, id);
      create index on lint_probe.child (pair_a) where pair_a > 0;
      create policy a on lint_probe.child for select to lint_probe_role using (true);
      create policy b on lint_probe.child for all to lint_probe_role using (true);
      create policy c on lint_probe.child as restrictive for select to lint_probe_role using (true);
      create policy d on lint_probe.child for insert to lint_probe_role with check (true);
      create function lint_probe.loose() returns int language sql as 'select 1';
      create function lint_probe.pinned() returns int language sql set search_path = '' as 'select 1';`);
    assertEquals(await mutableSearchPathFunctions(db, ["lint_probe"]), ["lint_probe.loose()"]);
    assertEquals(await overlappingPermissivePolicies(db, ["lint_probe"]), [
      "lint_probe.child, lint_probe_role, insert: b, d",
      "lint_probe.child, lint_probe_role, select: a, b",
    ]);
    assertEquals(await unindexedForeignKeys(db, ["lint_probe"]), [
      "lint_probe.child.child_pair_a_fkey (FOREIGN KEY (pair_a) REFERENCES lint_probe.parent(id))",
      "lint_probe.child.child_parent_id_fkey (FOREIGN KEY (parent_id) REFERENCES lint_probe.parent(id))",
    ]);
  } finally {
    await db.close();
  }
});
