/**
 * The product as a user runs it: `deno task start` in a process of its own,
 * on PGlite (a data folder) or on a fresh database of the test PostgreSQL
 * server (DATABASE_URL).
 */
import postgres from "postgres";
import { PG_URL } from "./stack.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

export interface Started {
  output: string;
  apiUrl: string;
  /** The process's id (with "direct", the product itself; with "task", `deno task`). */
  pid: number;
  /** Ctrl+C: a clean stop. */
  stop(): Promise<void>;
  /** SIGKILL: no clean-up of any kind (started "direct" only). */
  kill(): Promise<void>;
}

/**
 * Starts the product with `deno task start`, or with the command that task runs
 * when the test must SIGKILL it: a signal to `deno task` would not reach its child.
 */
export async function startProduct(
  env: Record<string, string>,
  via: "task" | "direct" = "task",
): Promise<Started> {
  const child = new Deno.Command(Deno.execPath(), {
    args: via === "task" ? ["task", "start"] : ["run", "-A", "supabase/local/start.ts"],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  let output = "";
  const reader = child.stdout.getReader();
  const stderr = child.stderr.text();
  const deadline = Date.now() + 60_000;
  while (!output.includes("Press Ctrl+C")) {
    const { value, done } = await reader.read();
    if (done || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`start did not come up:\n${output}\n${await stderr}`);
    }
    output += decoder.decode(value);
  }
  const apiUrl = /API URL: (\S+)/.exec(output)![1];
  const end = async (signal: Deno.Signal) => {
    child.kill(signal);
    const drain = (async () => {
      while (!(await reader.read()).done) { /* drain */ }
    })();
    await Promise.all([child.status, drain, stderr]);
  };
  return { output, apiUrl, pid: child.pid, stop: () => end("SIGTERM"), kill: () => end("SIGKILL") };
}

/**
 * The environment of a product of its own: a data folder and a free port,
 * and on PostgreSQL an empty database of the test server. `cleanUp` removes both.
 */
export async function productEnv(driver: "pglite" | "postgres") {
  const dir = await Deno.makeTempDir({ prefix: "consultorio-product-" });
  const env: Record<string, string> = {
    CONSULTORIO_LOCAL_DIR: dir,
    PORT: String(freePort()),
    LOG_LEVEL: "warn",
  };
  let dropDatabase = async () => {};
  if (driver === "postgres") {
    const name = `product_${crypto.randomUUID().replaceAll("-", "")}`;
    const admin = postgres(PG_URL!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const url = new URL(PG_URL!);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    dropDatabase = async () => {
      const admin = postgres(PG_URL!, { max: 1, onnotice: () => {} });
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    };
  }
  return {
    env,
    async cleanUp() {
      await dropDatabase();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

export async function loginStatus(apiUrl: string, phone: string, password = "consultorio-demo") {
  const res = await fetch(`${apiUrl}/functions/v1/api/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ phone, password }),
  });
  const body = await res.json();
  return { status: res.status, token: body.data?.accessToken as string | undefined };
}
