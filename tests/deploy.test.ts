/**
 * What `supabase functions deploy` ships: each function's import graph holds
 * neither the embedded stand-in (supabase/local/) nor PGlite, which the
 * local stack hands the app, nor the tests' FHIR validator (@medplum/*), and a function without a database URL refuses
 * to start, naming the variable, instead of opening an empty database.
 */
import { assert, assertEquals, assertMatch } from "./helpers/std.ts";

const ROOT = new URL("../", import.meta.url);
const FUNCTIONS = [...Deno.readDirSync(new URL("functions/", ROOT))]
  .filter((entry) => entry.isDirectory).map((entry) => entry.name).sort();

interface DenoInfo {
  modules: { specifier: string; size?: number; npmPackage?: string }[];
  npmPackages: Record<string, { name: string; dependencies: string[] }>;
}

async function denoInfo(entry: string): Promise<DenoInfo> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** The npm packages the graph reaches: those its modules import, and theirs in turn. */
function reachedPackages(info: DenoInfo): Set<string> {
  const reached = new Set<string>();
  const visit = (id: string) => {
    if (reached.has(id)) return;
    reached.add(id);
    for (const dependency of info.npmPackages[id]?.dependencies ?? []) visit(dependency);
  };
  for (const module of info.modules) if (module.npmPackage) visit(module.npmPackage);
  return reached;
}

Deno.test("deployed functions: no import graph holds supabase/local/ or PGlite", async () => {
  assert(FUNCTIONS.length >= 4, `functions found: ${FUNCTIONS.join(", ")}`);
  const local = new URL("supabase/local/", ROOT).href;
  for (const name of FUNCTIONS) {
    const info = await denoInfo(`functions/${name}/index.ts`);
    const offenders = info.modules.map((m) => m.specifier)
      .filter((specifier) => specifier.startsWith(local) || specifier.includes("@electric-sql/pglite"));
    // PGlite, and the FHIR validator the tests use (@medplum/*): neither is deployed.
    const pglite = [...reachedPackages(info)].filter((id) =>
      info.npmPackages[id]?.name === "@electric-sql/pglite" ||
      info.npmPackages[id]?.name.startsWith("@medplum/")
    );
    assertEquals([...offenders, ...pglite], [], `functions/${name}/index.ts imports the local stand-in`);
    // The rule can fail: the local stack's own graph does hold both.
    assert(info.modules.length > 10, `functions/${name}: an empty graph`);
  }
  const stack = await denoInfo("supabase/local/stack.ts");
  assert(stack.modules.some((m) => m.specifier.startsWith(local)));
  assert([...reachedPackages(stack)].some((id) => stack.npmPackages[id]?.name === "@electric-sql/pglite"));
});

Deno.test("deployed functions: without SUPABASE_DB_URL a function refuses to start, naming it", async () => {
  for (const name of FUNCTIONS) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `functions/${name}/index.ts`],
      cwd: ROOT,
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "",
        HOME: Deno.env.get("HOME") ?? "",
        JWT_SECRET: "a-test-secret-of-at-least-32-characters",
        WHATSAPP_SENDER: "console",
        PORT: "0",
      },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert(!out.success, `functions/${name} started without a database`);
    assertMatch(stderr, /SUPABASE_DB_URL is required/, `functions/${name}`);
  }
});
