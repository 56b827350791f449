/**
 * `deno task docs [file] [--server=URL]`: the API reference as one
 * self-contained HTML file (Swagger UI's script and stylesheet inlined, the
 * OpenAPI document embedded), to host anywhere: a deployed Supabase function
 * answers HTML as text/plain, so /docs renders only locally.
 * `--server` is the Edge Functions URL "Try it out" calls, for example
 * https://<ref>.supabase.co/functions/v1 (default: relative to the file).
 */
import { apiDocument } from "../shared/api.ts";
import { docsAssets, docsHtml } from "../shared/docs-page.ts";

const args = Deno.args.filter((a) => !a.startsWith("--"));
const server = Deno.args.find((a) => a.startsWith("--server="))?.slice("--server=".length);
const out = args[0] ?? "docs/api.html";

const doc = structuredClone(apiDocument()) as { servers?: { url: string; description?: string }[] };
if (server) doc.servers = [{ url: server.replace(/\/$/, ""), description: "The project's Edge Functions" }];

const dir = out.includes("/") ? out.slice(0, out.lastIndexOf("/")) : "";
if (dir) await Deno.mkdir(dir, { recursive: true });
await Deno.writeTextFile(out, docsHtml(await docsAssets(), doc));
console.log(`Wrote ${out} (${Math.round((await Deno.stat(out)).size / 1024)} KiB)`);
