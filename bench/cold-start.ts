/**
 * Cold start of the `api` Edge Function against a bare Hono app.
 *
 * Measured: a fresh `deno run -A functions/api/index.ts` (the real entry,
 * unchanged: loadConfig + createDeps + createApiApp, then Deno.serve), on a
 * database with the bootstrap and the migrations. Baseline: a fresh
 * `deno run -A bench/cold-start-bare.ts`, a bare Hono app served the same way.
 * Each run is timed from the spawn to the first 200 of GET /api/v1, polled
 * every ~2 ms, then the process is killed. Runs alternate api / bare.
 *
 * GET /api/v1 is not public: the api answers it 200 only with a valid access
 * token, whose session it checks in the database. The untimed first api run
 * signs a doctor in (POST /api/v1/auth/login) and every timed request of both
 * entries carries that token (the bare app ignores it), so the api's figure is
 * a real first request: token verified, session checked, envelope answered.
 *
 * Both entries call Deno.serve() without an address, as Supabase's runtime
 * expects; Deno's DENO_SERVE_ADDRESS (tcp:host:port) points each run at a
 * free port of its own, so that no file needs changing for the bench.
 */
import postgres from "postgres";
import { prepareBenchData } from "./lib/database.ts";
import { summarize, type Summary } from "./lib/stats.ts";

export interface ColdStartResult {
  /** Spawn → first 200, the api function (ms). */
  api: Summary;
  /** Spawn → first 200, the bare Hono app (ms). */
  bare: Summary;
  /** Timed runs of each. */
  runs: number;
  /** SDKs among HEAVY_SDKS that the api's module graph loads before any request (static imports). */
  eagerHeavyImports: string[];
  /** Every npm package the api's entry imports statically, directly from its own code. */
  eagerNpmPackages: string[];
}

/** SDKs the api should only load when a request needs them (dynamic import). */
export const HEAVY_SDKS = [
  "openai",
  "twilio",
  "livekit-server-sdk",
  "@supabase/supabase-js",
  "@electric-sql/pglite",
];

const ROOT = new URL("../", import.meta.url);
const API_ENTRY = new URL("../functions/api/index.ts", import.meta.url).pathname;
const BARE_ENTRY = new URL("./cold-start-bare.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;
/** A run that is not answering after this long has failed (a first, uncached run included). */
const START_TIMEOUT_MS = 60_000;
const POLL_MS = 2;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Spawns `entry`, polls GET /api/v1 (with `headers`) until it answers
 * `expected`, kills it: the elapsed ms. `ready`, if given, is called with the
 * origin before the kill (untimed).
 */
async function coldStart(
  entry: string,
  env: Record<string, string>,
  headers: HeadersInit,
  expected = 200,
  ready?: (origin: string) => Promise<void>,
): Promise<number> {
  const port = freePort();
  // A client per run: no kept-alive connection outlives its process.
  const client = Deno.createHttpClient({});
  const origin = `http://127.0.0.1:${port}`;
  const url = `${origin}/api/v1`;
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, entry],
    cwd: ROOT.pathname,
    env: { ...env, DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}` },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  // Drained as it comes, so that a chatty process never blocks on a full pipe; kept for the error.
  let stderr = "";
  const drained = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (stderr += chunk) }),
  );
  try {
    while (true) {
      if (exited) throw new Error(`${entry} exited before answering: ${stderr.trim()}`);
      if (performance.now() - started > START_TIMEOUT_MS) {
        throw new Error(`${entry} did not answer within ${START_TIMEOUT_MS} ms: ${stderr.trim()}`);
      }
      let res: Response;
      try {
        res = await fetch(url, { client, headers });
      } catch (error) {
        // Refused until Deno.serve listens: poll again.
        if (!(error instanceof TypeError)) throw error;
        await pause(POLL_MS);
        continue;
      }
      const elapsed = performance.now() - started;
      const body = await res.text();
      if (res.status !== expected) {
        throw new Error(`${entry} answered GET /api/v1 with ${res.status}: ${body}`);
      }
      await ready?.(origin);
      return elapsed;
    }
  } finally {
    if (!exited) child.kill("SIGKILL");
    await status;
    await drained.catch(() => {});
    client.close();
  }
}

interface InfoModule {
  specifier: string;
  kind?: string;
  npmPackage?: string;
  dependencies?: Array<{ isDynamic?: boolean; code?: { specifier?: string } }>;
}

interface Info {
  roots: string[];
  modules: InfoModule[];
  redirects: Record<string, string>;
  npmPackages: Record<string, { name: string; dependencies: string[] }>;
}

/**
 * `deno info --json` of the api entry, walked from its root along static
 * imports only (a dynamic import() is loaded when a request first needs it):
 * the npm packages reached, and with their own dependencies which heavy SDKs.
 */
async function eagerImports(): Promise<{ heavy: string[]; npm: string[] }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", CONFIG, API_ENTRY],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`deno info failed: ${new TextDecoder().decode(out.stderr)}`);
  const info: Info = JSON.parse(new TextDecoder().decode(out.stdout));
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const resolve = (specifier: string) => info.redirects[specifier] ?? specifier;

  const direct = new Set<string>(); // npmPackages keys, e.g. hono@4.13.19
  const seen = new Set<string>();
  const queue = info.roots.map(resolve);
  for (let specifier = queue.pop(); specifier !== undefined; specifier = queue.pop()) {
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    const module = modules.get(specifier);
    if (!module) continue;
    if (module.kind === "npm" && module.npmPackage) {
      direct.add(module.npmPackage);
      continue;
    }
    for (const dependency of module.dependencies ?? []) {
      if (dependency.isDynamic || !dependency.code?.specifier) continue;
      queue.push(resolve(dependency.code.specifier));
    }
  }

  // An npm package loads its own dependencies with it.
  const loaded = new Set<string>();
  const pending = [...direct];
  for (let key = pending.pop(); key !== undefined; key = pending.pop()) {
    if (loaded.has(key)) continue;
    loaded.add(key);
    pending.push(...(info.npmPackages[key]?.dependencies ?? []));
  }
  const names = (keys: Iterable<string>) =>
    [...new Set([...keys].map((key) => info.npmPackages[key]?.name ?? key))].sort();
  const all = names(loaded);
  return { heavy: HEAVY_SDKS.filter((sdk) => all.includes(sdk)), npm: names(direct) };
}

/**
 * `databaseUrl`: a PostgreSQL server's `postgres` database as superuser. A
 * database with the migrations and the doctor that signs in is created on it
 * for the api, and dropped after.
 */
export async function measureColdStart(
  options: { runs: number; databaseUrl: string },
): Promise<ColdStartResult> {
  const name = `consultorio_bench_cold_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = postgres(options.databaseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  try {
    const databaseUrl = new URL(options.databaseUrl);
    databaseUrl.pathname = `/${name}`;
    const { doctor } = await prepareBenchData(databaseUrl.toString(), 0);
    // What Supabase gives the function, and what shared/config.ts requires. SUPABASE_DB_URL wins over
    // DATABASE_URL in loadConfig: both are set, so that nothing inherited points elsewhere.
    const apiEnv = {
      ...Deno.env.toObject(),
      DATABASE_URL: databaseUrl.toString(),
      SUPABASE_DB_URL: databaseUrl.toString(),
      JWT_SECRET: crypto.randomUUID() + crypto.randomUUID(),
      WHATSAPP_SENDER: "console",
      LOG_LEVEL: "warn",
    };
    const bareEnv = Deno.env.toObject();

    // One untimed run each: Deno's transpile cache and the OS's file cache are warm for every timed run.
    // The api's also signs the doctor in: until then GET /api/v1 has no token, and its answer is 401.
    let headers: HeadersInit = {};
    await coldStart(API_ENTRY, apiEnv, headers, 401, async (origin) => {
      const res = await fetch(`${origin}/api/v1/auth/login`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ phone: doctor.phone, password: doctor.password }),
      });
      const body = await res.json();
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(body)}`);
      headers = { Authorization: `Bearer ${body.data.accessToken}` };
    });
    await coldStart(BARE_ENTRY, bareEnv, headers);
    const api: number[] = [];
    const bare: number[] = [];
    for (let run = 0; run < options.runs; run++) {
      api.push(await coldStart(API_ENTRY, apiEnv, headers));
      bare.push(await coldStart(BARE_ENTRY, bareEnv, headers));
    }
    const eager = await eagerImports();
    return {
      api: summarize(api),
      bare: summarize(bare),
      runs: options.runs,
      eagerHeavyImports: eager.heavy,
      eagerNpmPackages: eager.npm,
    };
  } finally {
    try {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
    } finally {
      await admin.end({ timeout: 5 });
    }
  }
}
