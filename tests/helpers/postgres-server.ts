/**
 * A throwaway PostgreSQL server for the tests and the bench: a temporary
 * data folder, a free port on 127.0.0.1, stopped and deleted afterwards.
 * Uses the machine's initdb/pg_ctl (Debian's postgresql package).
 */

import postgres from "postgres";
import { createPostgresDatabase } from "../../shared/db/postgres.ts";
import { prepareDatabase } from "../../supabase/local/migrate.ts";
import { maintainMessagePartitions } from "../../supabase/local/realtime/partitions.ts";

export interface PostgresServer {
  /**
   * URL of the `postgres` database, as the superuser. As on Supabase the
   * superuser is `supabase_admin`, so that the bootstrap can make the role
   * `postgres`, which the migrations run as, an ordinary one.
   */
  url: string;
  port: number;
  /** Stops the server (fast: sessions are ended), keeping its data folder and port. */
  halt(): Promise<void>;
  /** Starts it again on the same data folder and port. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

const SUPERUSER = "supabase_admin";

function findBinary(name: string): string {
  const candidates = [...(Deno.env.get("PATH") ?? "").split(":").map((dir) => `${dir}/${name}`)];
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")].map((e) => e.name).sort().reverse();
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin/${name}`));
  } catch { /* no Debian layout */ }
  for (const path of candidates) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* keep looking */ }
  }
  throw new Error(`${name} not found: install PostgreSQL (apt-get install postgresql) or set DATABASE_URL`);
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** initdb and postgres refuse to run as root: run them as the `postgres` user then. */
function asServerUser(command: string, args: string[]): Deno.Command {
  const root = Deno.uid() === 0;
  return root
    ? new Deno.Command("runuser", {
      args: ["-u", "postgres", "--", command, ...args],
      stdout: "piped",
      stderr: "piped",
    })
    : new Deno.Command(command, { args, stdout: "piped", stderr: "piped" });
}

async function run(command: string, args: string[]) {
  const out = await asServerUser(command, args).output();
  if (!out.success) {
    throw new Error(
      `${command} failed: ${new TextDecoder().decode(out.stderr)}${new TextDecoder().decode(out.stdout)}`,
    );
  }
}

export async function startPostgresServer(): Promise<PostgresServer> {
  const initdb = findBinary("initdb");
  const pgCtl = findBinary("pg_ctl");
  const dir = await Deno.makeTempDir({ prefix: "consultorio-pg-" });
  if (Deno.uid() === 0) await new Deno.Command("chown", { args: ["-R", "postgres", dir] }).output();
  const data = `${dir}/data`;
  const port = freePort();
  await run(initdb, ["-D", data, "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--no-sync"]);
  const start = () =>
    run(pgCtl, [
      "-D",
      data,
      "-l",
      `${dir}/server.log`,
      "-w",
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      "start",
    ]);
  await start();
  return {
    url: `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`,
    port,
    halt: () => run(pgCtl, ["-D", data, "-m", "fast", "-w", "stop"]),
    resume: start,
    async stop() {
      await run(pgCtl, ["-D", data, "-m", "fast", "-w", "stop"]).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * (Re)creates the database `name` on the server of `adminUrl` with the
 * bootstrap and every migration, for tests to copy (`create database ... template`).
 */
export async function prepareTemplate(adminUrl: string, name: string) {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${name}`);
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${name}`;
  const db = createPostgresDatabase({ url: templateUrl.toString(), poolSize: 1 });
  await prepareDatabase(db, { seed: false });
  // As Realtime does when it first connects to a project: the copies' realtime.send works without the stand-in.
  await maintainMessagePartitions(db);
  await db.close();
}

/**
 * Makes `startTestStack("postgres")` work outside `deno task test` (the fuzzer,
 * the bench): prepares the template `name` on the server of `adminUrl` and
 * points the test stacks at it, as tests/run.ts does for the suite.
 */
export async function prepareTestStacks(adminUrl: string, name: string) {
  await prepareTemplate(adminUrl, name);
  Deno.env.set("TEST_PG_URL", adminUrl);
  Deno.env.set("TEST_PG_TEMPLATE", name);
}

/**
 * A new database `t_<uuid>` on the server of `adminUrl` (empty, or a copy of
 * `template`): its URL, and drop() to remove it with its connections.
 */
export async function createScratchDatabase(
  adminUrl: string,
  template?: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `t_${crypto.randomUUID().replaceAll("-", "")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}${template ? ` template ${template}` : ""}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
