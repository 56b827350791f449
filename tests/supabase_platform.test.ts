/**
 * The local database is shaped like a Supabase project's (supabase/local/bootstrap.sql):
 *
 *   - auth, storage and realtime belong to their services' admin roles, and
 *     the migrations create, replace or alter nothing of theirs: everything
 *     there is the same after the migrations as after the bootstrap alone,
 *     policies aside (both drivers).
 *   - on PostgreSQL the migrations run as `postgres`, an ordinary role: a
 *     migration that touches a Supabase-owned object fails as it would on
 *     Supabase, while a policy on storage.objects or realtime.messages is
 *     allowed, as supautils allows it there.
 *   - realtime.messages is partitioned by day, its partitions kept by the
 *     Realtime stand-in (yesterday to three days ahead, expired days dropped).
 *   - two bootstraps into two empty databases of one fresh server at once
 *     both succeed (the roles are server-wide).
 */
import postgres from "postgres";
import type { Database } from "../shared/db/database.ts";
import { createPGliteDatabase } from "../supabase/local/pglite.ts";
import { createPostgresDatabase } from "../shared/db/postgres.ts";
import {
  applyMigration,
  bootstrap,
  isGrantedPolicyStatement,
  prepareDatabase,
} from "../supabase/local/migrate.ts";
import { splitStatements } from "../supabase/local/sql-statements.ts";
import { maintainMessagePartitions } from "../supabase/local/realtime/partitions.ts";
import { createScratchDatabase, startPostgresServer } from "./helpers/postgres-server.ts";
import { assert, assertEquals, assertRejects } from "./helpers/std.ts";

const PG_URL = Deno.env.get("TEST_PG_URL");
const SUPABASE_SCHEMAS = "array['auth', 'storage', 'realtime']";

/** Everything in auth, storage and realtime but policies and realtime.messages' partitions, one line each. */
async function supabaseObjects(db: Database): Promise<string[]> {
  const rows = await db.queryAsOwner<{ line: string }>(`
    with s as (select oid, nspname from pg_namespace where nspname = any (${SUPABASE_SCHEMAS})),
    rel as (
      select c.*, s.nspname from pg_class c join s on s.oid = c.relnamespace where not c.relispartition
    )
    select format('schema %s owner %s acl %s', nspname, pg_get_userbyid(nspowner), nspacl) as line
      from pg_namespace where nspname = any (${SUPABASE_SCHEMAS})
    union all
    select format('relation %s.%s kind %s owner %s acl %s rls %s force %s', nspname, relname, relkind,
                  pg_get_userbyid(relowner), relacl, relrowsecurity, relforcerowsecurity)
      from rel where relkind <> 'i'
    union all
    select format('column %s.%s.%s %s not null %s default %s', r.nspname, r.relname, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
      from rel r join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
      left join pg_attrdef d on d.adrelid = r.oid and d.adnum = a.attnum
     where r.relkind in ('r', 'p', 'v')
    union all
    select format('index %s', pg_get_indexdef(i.indexrelid)) from pg_index i join rel r on r.oid = i.indrelid
    union all
    select format('constraint %s on %s.%s: %s', c.conname, r.nspname, r.relname, pg_get_constraintdef(c.oid))
      from pg_constraint c join rel r on r.oid = c.conrelid
    union all
    -- The project's own triggers (their function outside these schemas) are its to add.
    select format('trigger %s', pg_get_triggerdef(t.oid))
      from pg_trigger t join rel r on r.oid = t.tgrelid join pg_proc f on f.oid = t.tgfoid
     where not t.tgisinternal and f.pronamespace in (select oid from s)
    union all
    select format('function %s owner %s acl %s definition md5 %s', p.oid::regprocedure,
                  pg_get_userbyid(p.proowner), p.proacl, md5(pg_get_functiondef(p.oid)))
      from pg_proc p join s on s.oid = p.pronamespace
    union all
    select format('type %s.%s owner %s', s.nspname, t.typname, pg_get_userbyid(t.typowner))
      from pg_type t join s on s.oid = t.typnamespace
     where not exists (select 1 from pg_class c where c.oid = t.typrelid and c.relispartition)
       and not exists (
         select 1 from pg_type e join pg_class c on c.oid = e.typrelid
          where e.oid = t.typelem and t.typcategory = 'A' and c.relispartition
       )
    order by 1`);
  return rows.map((r) => r.line);
}

/** Lines of `after` not in `before` and the other way round. */
function difference(before: string[], after: string[]): string[] {
  return [
    ...after.filter((line) => !before.includes(line)).map((line) => `+ ${line}`),
    ...before.filter((line) => !after.includes(line)).map((line) => `- ${line}`),
  ];
}

interface Opened {
  db: Database;
  close(): Promise<void>;
}

/** An empty database: a PGlite in memory, or a new database on the test server. */
async function emptyDatabase(driver: "pglite" | "postgres", serverUrl = PG_URL!): Promise<Opened> {
  if (driver === "pglite") {
    const db = await createPGliteDatabase();
    return { db, close: () => db.close() };
  }
  const scratch = await createScratchDatabase(serverUrl);
  const db = createPostgresDatabase({ url: scratch.url, poolSize: 2 });
  return {
    db,
    async close() {
      await db.close();
      await scratch.drop();
    },
  };
}

const ADMINS: Record<string, string> = {
  auth: "supabase_auth_admin",
  storage: "supabase_storage_admin",
  realtime: "supabase_realtime_admin",
};

for (const driver of ["pglite", "postgres"] as const) {
  Deno.test({
    name: `Supabase's objects: owned by its admin roles, untouched by the migrations [${driver}]`,
    ignore: driver === "postgres" && !PG_URL,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const { db, close } = await emptyDatabase(driver);
      try {
        await bootstrap(db);
        const bootstrapped = await supabaseObjects(db);
        await prepareDatabase(db, { seed: true });
        const migrated = await supabaseObjects(db);

        await t.step("every schema, table, function and type there is its service's admin role's", () => {
          const wrong = migrated.filter((line) => {
            const owner = / owner (\S+)/.exec(line)?.[1];
            const schema = /^\w+ (?:([a-z]+)\.|([a-z]+) owner)/.exec(line);
            const name = schema?.[1] ?? schema?.[2];
            return owner !== undefined && name !== undefined && owner !== ADMINS[name];
          });
          assertEquals(wrong, []);
          assert(migrated.some((line) => line.startsWith("relation storage.objects kind r")));
          assert(migrated.some((line) => line.startsWith("relation realtime.messages kind p")));
        });

        await t.step("the migrations and the seed created, replaced or altered none of it", () => {
          assertEquals(difference(bootstrapped, migrated), []);
        });

        await t.step("they did add their policies on storage.objects and realtime.messages", async () => {
          const [row] = await db.queryAsOwner<{ storage: number; realtime: number }>(
            `select count(*) filter (where schemaname = 'storage' and tablename = 'objects')::int as storage,
                    count(*) filter (where schemaname = 'realtime' and tablename = 'messages')::int as realtime
               from pg_policies`,
          );
          assert(row.storage > 0 && row.realtime > 0, JSON.stringify(row));
        });

        await t.step("the check sees a migration that replaces a Supabase function", async () => {
          const replace = {
            version: "29991231000000",
            name: "replace_realtime_send",
            sql: `create or replace function realtime.topic() returns text language sql stable
                  as $$ select 'everything'::text $$;`,
          };
          const [{ superuser }] = await db.queryAsOwner<{ superuser: boolean }>(
            "select rolsuper as superuser from pg_roles where rolname = 'postgres'",
          );
          if (superuser) {
            // PGlite's only user is a superuser: the migration applies, and the catalog shows it.
            await applyMigration(db, replace);
            const changed = difference(migrated, await supabaseObjects(db));
            assert(changed.some((line) => line.includes("realtime.topic()")), changed.join("\n"));
          } else {
            const error = await assertRejects(() => applyMigration(db, replace)) as { code?: string };
            assertEquals(error.code, "42501");
          }
        });
      } finally {
        await close();
      }
    },
  });
}

Deno.test({
  name: "the migrations run as postgres, an ordinary role, as on Supabase [postgres]",
  ignore: !PG_URL,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const { db, close } = await emptyDatabase("postgres");
    try {
      await prepareDatabase(db, { seed: true });
      let n = 0;
      const migrate = (sql: string) =>
        applyMigration(db, { version: `2999123100000${n}`, name: `probe_${n++}`, sql });

      await t.step("postgres is no superuser, and owns what the migrations and the seed made", async () => {
        const [row] = await db.queryAsOwner<{ superuser: boolean; users: string; seeded: string }>(
          `select (select rolsuper from pg_roles where rolname = 'postgres') as superuser,
                  (select pg_get_userbyid(relowner) from pg_class where oid = 'public.users'::regclass) as users,
                  (select pg_get_userbyid(relowner) from pg_class
                    where oid = 'supabase_migrations.schema_migrations'::regclass) as seeded`,
        );
        assertEquals(
          row,
          { superuser: false, users: "postgres", seeded: "postgres" },
          "postgres must be an ordinary role: run the server leg on a server whose superuser is another " +
            "(the throwaway server's is supabase_admin, as on Supabase)",
        );
      });

      await t.step("a migration may create, alter and drop a policy on storage.objects", async () => {
        await migrate(
          `create policy "probe" on storage.objects for select to authenticated using (bucket_id = 'probe');
           alter policy "probe" on storage.objects using (bucket_id = 'probe2');
           drop policy "probe" on storage.objects;`,
        );
        await migrate(
          `create policy probe on realtime.messages for select to authenticated using (topic = 'probe')`,
        );
      });

      const refusals: [string, string][] = [
        ["alters storage.objects", "alter table storage.objects add column probe int"],
        [
          "replaces realtime.send",
          "create or replace function realtime.send(jsonb, text, text, boolean) " +
          "returns void language sql as $$ select $$",
        ],
        ["creates a table in realtime", "create table realtime.probe (id int)"],
        [
          "disables row-level security on realtime.messages",
          "alter table realtime.messages disable row level security",
        ],
        [
          "creates a policy on storage.buckets",
          "create policy probe on storage.buckets for select to anon using (true)",
        ],
        [
          "creates a trigger on realtime.messages",
          `create function public.probe() returns trigger language plpgsql
           as $$ begin return new; end $$; create trigger probe before insert on realtime.messages
           for each row execute function public.probe()`,
        ],
        [
          "hides a policy statement in a function",
          `do $$ begin
           execute 'create policy probe2 on storage.objects for select to anon using (true)'; end $$`,
        ],
      ];
      await t.step("a migration that changes its role is refused before it runs", async () => {
        for (
          const sql of [
            "reset role",
            "set local role none",
            "do $$ begin perform set_config('role', 'none', true); end $$",
          ]
        ) {
          const error = await assertRejects(() => migrate(`${sql}; create table realtime.probe (id int)`));
          assert(String(error).includes("may not change its role"), String(error));
        }
      });

      for (const [what, sql] of refusals) {
        await t.step(`a migration that ${what} fails, and changes nothing`, async () => {
          const before = await supabaseObjects(db);
          const error = await assertRejects(() => migrate(sql)) as { code?: string; message?: string };
          assert(["42501", "42883"].includes(error.code ?? ""), `${error.code}: ${error.message}`);
          assertEquals(difference(before, await supabaseObjects(db)), []);
        });
      }
    } finally {
      await close();
    }
  },
});

for (const driver of ["pglite", "postgres"] as const) {
  Deno.test({
    name: `realtime.messages is partitioned by day, kept by the Realtime stand-in [${driver}]`,
    ignore: driver === "postgres" && !PG_URL,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const { db, close } = await emptyDatabase(driver);
      try {
        await prepareDatabase(db, { seed: false });
        const partitions = async () => (await db.queryAsOwner<{ name: string; owner: string; bound: string }>(
          `select c.relname as name, pg_get_userbyid(c.relowner) as owner,
                    pg_get_expr(c.relpartbound, c.oid) as bound
               from pg_inherits i join pg_class c on c.oid = i.inhrelid
              where i.inhparent = 'realtime.messages'::regclass order by 1`,
        ));
        const [strategy] = await db.queryAsOwner<{ strategy: string; key: string }>(
          `select partstrat as strategy, pg_get_partkeydef(partrelid) as key
             from pg_partitioned_table where partrelid = 'realtime.messages'::regclass`,
        );
        assertEquals(strategy, { strategy: "r", key: "RANGE (inserted_at)" });

        await maintainMessagePartitions(db, new Date("2026-03-10T23:30:00Z"));
        const first = await partitions();
        assertEquals(first.map((p) => p.name), [
          "messages_2026_03_09",
          "messages_2026_03_10",
          "messages_2026_03_11",
          "messages_2026_03_12",
          "messages_2026_03_13",
        ]);
        assert(first.every((p) => p.owner === "supabase_realtime_admin"), JSON.stringify(first));
        assertEquals(first[1].bound, "FOR VALUES FROM ('2026-03-10 00:00:00') TO ('2026-03-11 00:00:00')");

        // Five days on: the days more than 72 hours old are dropped, the new ones made; twice is once.
        await maintainMessagePartitions(db, new Date("2026-03-15T08:00:00Z"));
        await maintainMessagePartitions(db, new Date("2026-03-15T08:00:00Z"));
        assertEquals((await partitions()).map((p) => p.name), [
          "messages_2026_03_12",
          "messages_2026_03_13",
          "messages_2026_03_14",
          "messages_2026_03_15",
          "messages_2026_03_16",
          "messages_2026_03_17",
          "messages_2026_03_18",
        ]);
      } finally {
        await close();
      }
    },
  });
}

const ROLES = [
  "anon",
  "authenticated",
  "service_role",
  "authenticator",
  "supabase_auth_admin",
  "supabase_storage_admin",
  "supabase_realtime_admin",
  "postgres",
];

Deno.test({
  name: "bootstraps into empty databases of a fresh server at once all succeed [postgres]",
  ignore: !PG_URL,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // A server of its own, whose roles are dropped between rounds: on the
    // suite's server the roles exist already, and there is no race.
    const server = await startPostgresServer();
    try {
      for (let round = 0; round < 3; round++) {
        const opened = await Promise.all([0, 1, 2, 3].map(() => emptyDatabase("postgres", server.url)));
        try {
          await Promise.all(opened.map(({ db }) => db.queryAsOwner("select 1")));
          const results = await Promise.allSettled(opened.map(({ db }) => bootstrap(db)));
          const failures = results.flatMap((r) => r.status === "rejected" ? [String(r.reason)] : []);
          assertEquals(failures, [], `round ${round}`);
        } finally {
          await Promise.all(opened.map((o) => o.close()));
        }
        const admin = postgres(server.url, { max: 1, onnotice: () => {} });
        await admin.unsafe(`drop role ${ROLES.join(", ")}`);
        await admin.end();
      }
    } finally {
      await server.stop();
    }
  },
});

Deno.test("the runner finds the statements, and the policy statements supautils would allow", () => {
  const script = `-- a comment; not a statement
    create function f() returns text language sql as $body$ select 'a;b' $body$;
    select 'it''s; one', "odd;name", E'\\'; still', $$;$$ /* c; /* nested; */ */;
    create policy "Read; files" on storage.objects for select to authenticated using (true)`;
  const statements = splitStatements(script);
  assertEquals(statements.length, 3, JSON.stringify(statements));
  assert(statements[1].includes("nested; */ */"));
  assertEquals(statements.map(isGrantedPolicyStatement), [false, false, true]);
  assert(isGrantedPolicyStatement("drop policy if exists x on realtime.messages"));
  assert(isGrantedPolicyStatement(`ALTER POLICY "x" ON "storage"."objects" USING (false)`));
  assert(!isGrantedPolicyStatement("create policy x on storage.buckets using (true)"));
  assert(!isGrantedPolicyStatement("create policy x on public.objects using (true)"));
  assert(!isGrantedPolicyStatement("alter table storage.objects add column x int"));
});
