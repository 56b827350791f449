/**
 * The API reference renders in a real headless Chromium with no network but
 * 127.0.0.1: the /docs page the api function serves, and the self-contained
 * file `deno task docs` writes. Every operation of the OpenAPI document is
 * on the page. Skipped only without /usr/bin/chromium outside CI.
 */
import { type Browser, chromium, type Page } from "playwright-core";
import { assert, assertEquals } from "./helpers/std.ts";
import { startTestStack } from "./helpers/stack.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);

// deno-lint-ignore no-explicit-any
type Json = any;

function operationIds(doc: Json): string[] {
  return Object.values<Json>(doc.paths).flatMap((item) =>
    Object.values<Json>(item).map((op) => op.operationId)
  )
    .sort();
}

/** Opens `url` with every request to another host than 127.0.0.1 failed; returns those requests. */
async function openOffline(browser: Browser, url: string): Promise<{ page: Page; blocked: string[] }> {
  const context = await browser.newContext();
  const blocked: string[] = [];
  await context.route("**/*", (route) => {
    const target = new URL(route.request().url());
    if (target.protocol === "file:" || target.hostname === "127.0.0.1") return route.continue();
    blocked.push(target.href);
    return route.abort("internetdisconnected");
  });
  const page = await context.newPage();
  await page.goto(url);
  return { page, blocked };
}

/** The operationIds Swagger UI rendered: each operation block's id is operations-<tag>-<operationId>. */
async function renderedOperations(page: Page, expected: number): Promise<string[]> {
  // A string: it runs in the page, whose DOM these tests' types do not know.
  await page.waitForFunction(
    `document.querySelectorAll(".opblock[id^='operations-']").length >= ${expected}`,
    null,
    {
      timeout: 60_000,
    },
  );
  const ids = await page.$$eval(".opblock[id^='operations-']", (blocks) => blocks.map((b) => b.id));
  return ids.map((id) => id.slice(id.lastIndexOf("-") + 1)).sort();
}

Deno.test({
  name: "docs: /docs and the generated file render every operation offline in Chromium",
  ignore: !hasChromium && !Deno.env.get("CI"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    // The reference does not touch the database: one driver is enough.
    const s = await startTestStack("pglite");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    const dir = await Deno.makeTempDir({ prefix: "consultorio-docs-" });
    try {
      const doc = await (await fetch(s.api("/openapi.json"))).json();
      const expected = operationIds(doc);
      assert(expected.length >= 90, `only ${expected.length} operations`);

      await t.step("the served /docs page, its assets from the function", async () => {
        const { page, blocked } = await openOffline(browser, s.api("/docs"));
        assertEquals(await renderedOperations(page, expected.length), expected);
        assertEquals(blocked, [], "the page asked another host");
        await page.context().close();
      });

      await t.step("its assets are the pinned package's, with their types", async () => {
        const js = await fetch(s.api("/docs/swagger-ui-bundle.js"));
        assertEquals(js.headers.get("content-type"), "text/javascript; charset=utf-8");
        assert((await js.text()).length > 500_000);
        const css = await fetch(s.api("/docs/swagger-ui.css"));
        assertEquals(css.headers.get("content-type"), "text/css; charset=utf-8");
        await css.body?.cancel();
        const other = await fetch(s.api("/docs/index.html"));
        assertEquals(other.status, 404);
        await other.body?.cancel();
      });

      await t.step("the file `deno task docs` writes, opened from disk", async () => {
        const file = `${dir}/api.html`;
        const task = await new Deno.Command(Deno.execPath(), {
          args: ["task", "docs", file, "--server=https://example-ref.supabase.co/functions/v1"],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert(task.success, new TextDecoder().decode(task.stderr));
        const html = await Deno.readTextFile(file);
        assert(
          !/<(script|link)[^>]+(src|href)=/i.test(html),
          "the file links an asset instead of inlining it",
        );
        const { page, blocked } = await openOffline(browser, `file://${file}`);
        assertEquals(await renderedOperations(page, expected.length), expected);
        assertEquals(blocked, [], "the file asked another host");
        const servers = await page.$$eval(".servers option", (options) => options.map((o) => o.textContent));
        assert(
          servers.some((s) => s?.includes("https://example-ref.supabase.co/functions/v1")),
          String(servers),
        );
        await page.context().close();
      });
    } finally {
      await browser.close();
      await s.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
