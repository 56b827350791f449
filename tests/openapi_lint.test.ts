/**
 * The OpenAPI document as a code generator reads it: `@redocly/cli lint`
 * (recommended rules plus redocly.yaml's) finds no error and no warning, and
 * each operation has what a generated client needs: an operationId, a
 * summary, tags, examples, and only the error answers it can give. It lints
 * whatever the app generates, so routes added later are covered.
 */
import type { z } from "@hono/zod-openapi";
import { API_BASE_PATH, apiDocument, documentedApp } from "../shared/api.ts";
import { assert, assertEquals } from "./helpers/std.ts";

const REDOCLY = "@redocly/cli@2.77.0";

// deno-lint-ignore no-explicit-any
type Json = any;

/** Twilio's webhooks: a signed form body the handler reads itself, so the route declares none. */
const FORM_BODY = new Set(["receiveWhatsAppMessage", "receiveWhatsAppStatus"]);

function operations(doc: Json) {
  return Object.entries<Json>(doc.paths).flatMap(([path, item]) =>
    Object.entries<Json>(item).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, path, op }))
  );
}

Deno.test("openapi: redocly lint finds 0 errors and 0 warnings", async () => {
  const dir = await Deno.makeTempDir({ prefix: "consultorio-openapi-" });
  try {
    const file = `${dir}/openapi.json`;
    await Deno.writeTextFile(file, JSON.stringify(apiDocument(), null, 2));
    const out = await new Deno.Command("npx", {
      args: [
        "--yes",
        REDOCLY,
        "lint",
        "--config",
        new URL("../redocly.yaml", import.meta.url).pathname,
        "--format",
        "json",
        file,
      ],
      env: { REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const report = JSON.parse(stdout.slice(stdout.indexOf("{")));
    const problems = report.problems.map((p: Json) =>
      `${p.severity} ${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer}`
    );
    assertEquals(problems, [], "redocly lint reported problems");
    assertEquals(report.totals, { errors: 0, warnings: 0, ignored: 0 });
    assert(out.success, new TextDecoder().decode(out.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openapi: every operation is ready for a client generator", () => {
  const doc = apiDocument();
  const ops = operations(doc);
  assert(ops.length >= 90, `only ${ops.length} operations`);
  const ids = new Set<string>();
  for (const { name, path, op } of ops) {
    assert(/^[a-z][a-zA-Z0-9]+$/.test(op.operationId ?? ""), `${name}: operationId ${op.operationId}`);
    assert(!ids.has(op.operationId), `${name}: operationId ${op.operationId} twice`);
    ids.add(op.operationId);
    assert(op.summary, `${name}: no summary`);
    assert(op.tags?.length, `${name}: no tags`);
    for (const media of Object.values<Json>(op.requestBody?.content ?? {})) {
      assert(media.example !== undefined, `${name}: the request body has no example`);
    }
    const statuses = Object.keys(op.responses).map(Number);
    for (const [status, response] of Object.entries<Json>(op.responses)) {
      for (const media of Object.values<Json>(response.content ?? {})) {
        assert(media.example !== undefined, `${name} ${status}: no example`);
      }
    }
    // Only the answers the operation can give, by its shape.
    const isPublic = Array.isArray(op.security) && op.security.length === 0;
    assertEquals(statuses.includes(401), !isPublic || op.operationId === "login", `${name}: 401`);
    if (!/\{[^}]+\}/.test(path) && statuses.includes(404)) {
      assert(op.requestBody || op.parameters?.length, `${name}: 404 without a path id or input`);
    }
    const hasBody = Boolean(op.requestBody) || FORM_BODY.has(op.operationId);
    const hasInput = hasBody || (op.parameters ?? []).length > 0;
    assertEquals(statuses.includes(400), hasInput, `${name}: 400 is for operations with input`);
    assertEquals(statuses.includes(413), hasBody, `${name}: 413 is for operations with a body`);
    // Public, no input: their failure is a 5xx (health, FHIR's CapabilityStatement).
    if (!["getHealth", "getFhirCapabilityStatement"].includes(op.operationId)) {
      assert(statuses.some((s) => s >= 400 && s < 500), `${name}: no 4xx`);
    }
  }
});

Deno.test("openapi: each request example is a body the route accepts (its zod schema, refinements too)", () => {
  const doc: Json = apiDocument();
  let checked = 0;
  const refused: string[] = [];
  for (const definition of documentedApp().openAPIRegistry.definitions) {
    if (definition.type !== "route") continue;
    const { method, path, request } = definition.route;
    const media: Json = request?.body?.content?.["application/json"];
    const schema = media?.schema as z.ZodType | undefined;
    if (!schema) continue;
    const docPath = (API_BASE_PATH + path).replace(/\/$/, "");
    const example = doc.paths[docPath][method].requestBody.content["application/json"].example;
    const parsed = schema.safeParse(example);
    if (!parsed.success) {
      refused.push(`${method.toUpperCase()} ${path}: ${JSON.stringify(parsed.error.issues)}`);
    }
    checked++;
  }
  assertEquals(refused, []);
  assert(checked >= 30, `only ${checked} bodies checked`);
});

Deno.test("openapi: security schemes: bearer, and public routes say security: []", () => {
  const doc: Json = apiDocument();
  assertEquals(doc.components.securitySchemes.bearerAuth, {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "The accessToken from POST /v1/auth/login",
  });
  assertEquals(doc.security, [{ bearerAuth: [] }]);
  const getUser = doc.paths["/api/v1/user/me"].get;
  assertEquals(getUser.security, undefined, "inherits bearerAuth");
  assertEquals(doc.paths["/api/v1/auth/login"].post.security, []);
});
