/**
 * The bench's database: a fresh one in DATABASE_URL's server, or in a
 * throwaway PostgreSQL server started here; bootstrap + migrations, a few
 * hundred users and the doctor whose profile the bench reads.
 */
import postgres from "postgres";
import { hashPassword } from "../../shared/auth/password.ts";
import { createPostgresDatabase } from "../../shared/db/postgres.ts";
import { prepareDatabase } from "../../supabase/local/migrate.ts";
import { startPostgresServer } from "../../tests/helpers/postgres-server.ts";

export interface BenchDatabase {
  /** URL of the fresh database, as the server's owner role. */
  url: string;
  /** URL of the server's `postgres` database as its superuser (for benches that make databases of their own). */
  adminUrl: string;
  /** Where it lives, for the report. */
  source: "throwaway PostgreSQL server" | "DATABASE_URL";
  serverVersion: string;
  /** Another fresh database on the same server (dropped by close too); its URL. */
  another(): Promise<string>;
  /** Drops the databases and stops the server if it was started here. */
  close(): Promise<void>;
}

export async function createBenchDatabase(): Promise<BenchDatabase> {
  const given = Deno.env.get("DATABASE_URL");
  const server = given ? undefined : await startPostgresServer();
  const adminUrl = given ?? server!.url;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const names: string[] = [];
  const create = async () => {
    const name = `consultorio_bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    await admin.unsafe(`create database ${name}`);
    names.push(name);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return url.toString();
  };
  const close = async () => {
    try {
      for (const name of names) await admin.unsafe(`drop database if exists ${name} with (force)`);
    } finally {
      await admin.end({ timeout: 5 });
      await server?.stop();
    }
  };
  try {
    const url = await create();
    const [{ server_version }] = await admin.unsafe("show server_version");
    return {
      url,
      adminUrl,
      source: given ? "DATABASE_URL" : "throwaway PostgreSQL server",
      serverVersion: String(server_version),
      another: create,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface BenchData {
  doctor: { id: string; phone: string; password: string };
  users: number;
}

/**
 * Bootstrap + migrations (no seed), then `extraUsers` patients and doctors
 * and the doctor that signs in, inserted as the owner like the tests do.
 */
export async function prepareBenchData(url: string, extraUsers: number): Promise<BenchData> {
  const db = createPostgresDatabase({ url, poolSize: 2 });
  try {
    await prepareDatabase(db, { seed: false });
    const [specialty] = await db.queryAsOwner<{ id: string }>(
      "insert into public.specialties (name) values ('Clínica médica') returning id",
    );
    await db.queryAsOwner(
      `insert into public.users (role, name, last_name, phone, email, specialty_id)
       select case when i % 5 = 0 then 'doctor' else 'patient' end::public.app_role,
              'Persona ' || i, 'Bench',
              '+5492' || lpad(i::text, 8, '0'),
              'bench.user.' || i || '@bench.consultorio.dev',
              case when i % 5 = 0 then $1::uuid end
         from generate_series(1, $2::int) as i`,
      [specialty.id, extraUsers],
    );
    const password = "bench-password-1";
    const phone = "+5491100000000";
    const [doctor] = await db.queryAsOwner<{ id: string }>(
      `with u as (
         insert into public.users (role, name, last_name, phone, email, specialty_id)
         values ('doctor', 'Doctora', 'Bench', $1, 'doctor@bench.consultorio.dev', $2) returning id
       )
       insert into private.credentials (user_id, password_hash, password_changed_at)
       select id, $3, now() from u returning user_id as id`,
      [phone, specialty.id, await hashPassword(password)],
    );
    await db.queryAsOwner("analyze");
    const [{ count }] = await db.queryAsOwner<{ count: string }>("select count(*) from public.users");
    return { doctor: { id: doctor.id, phone, password }, users: Number(count) };
  } finally {
    await db.close();
  }
}
