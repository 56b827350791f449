/**
 * The contract as a whole, driven by the generated OpenAPI document: every
 * route documented, deny by default, bad input answered 400 naming the
 * field on every endpoint, ProblemDetails everywhere, CORS and headers.
 */
import { PUBLIC_ROUTES } from "../shared/app/authenticate.ts";
import { assertFieldErrors, assertMissingFields, assertProblem } from "./helpers/assertions.ts";
import { assert, assertEquals } from "./helpers/std.ts";
import { call, createUser, testBothDrivers, type TestStack } from "./helpers/stack.ts";

interface Operation {
  method: string;
  path: string;
  // deno-lint-ignore no-explicit-any
  spec: any;
}

// deno-lint-ignore no-explicit-any
async function operations(s: TestStack): Promise<{ doc: any; ops: Operation[] }> {
  const doc = await (await fetch(s.api("/openapi.json"))).json();
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, spec] of Object.entries(item as Record<string, unknown>)) {
      ops.push({ method: method.toUpperCase(), path: path.replace(/^\/api/, ""), spec });
    }
  }
  return { doc, ops };
}

/** The FHIR routes answer FHIR's own error shape (OperationOutcome), tested in tests/fhir.test.ts. */
const isFhir = (op: Operation) => op.path.startsWith("/v1/fhir/");

const concrete = (path: string, id = crypto.randomUUID()) => path.replace(/\{[^}]+\}/g, id);

/** A value of the wrong JSON type for a schema. */
// deno-lint-ignore no-explicit-any
function wrongValue(schema: any): unknown {
  const type = schema?.type ?? (schema?.enum ? "string" : schema?.anyOf ? "string" : undefined);
  if (type === "string") return 12345;
  if (type === "number" || type === "integer" || type === "boolean") return "not-a-" + type;
  if (type === "array") return { not: "an array" };
  if (type === "object") return "not-an-object";
  return undefined;
}

testBothDrivers("contract: OpenAPI document, deny by default, bad input on every endpoint", async (t, s) => {
  const admin = await createUser(s, "admin");
  const { doc, ops } = await operations(s);

  await t.step("the document lists every route the api function serves", () => {
    const documented = new Set(ops.map((o) => `${o.method} ${o.path.replace(/\{([^}]+)\}/g, ":$1")}`));
    const served = s.stack.api.routes
      .filter((r) =>
        r.method !== "ALL" && !["/api/openapi.json", "/api/docs", "/api/docs/:asset"].includes(r.path)
      )
      .map((r) => `${r.method} ${r.path.replace(/^\/api/, "")}`);
    assert(served.length >= 12, `only ${served.length} routes`);
    for (const route of served) assert(documented.has(route), `${route} is not in the OpenAPI document`);
  });

  await t.step("every operation declares its error answers as ProblemDetails", () => {
    for (const op of ops) {
      const errors = Object.entries(op.spec.responses).filter(([status]) => Number(status) >= 400);
      if (op.path === "/health") continue;
      assert(errors.length > 0, `${op.method} ${op.path} declares no error`);
      const media = isFhir(op) ? "application/fhir+json" : "application/problem+json";
      for (const [status, response] of errors) {
        // deno-lint-ignore no-explicit-any
        assert((response as any).content?.[media], `${op.method} ${op.path} ${status}`);
      }
    }
  });

  await t.step("public operations are exactly the contract's public routes", () => {
    const publicOps = ops.filter((o) => Array.isArray(o.spec.security) && o.spec.security.length === 0)
      .map((o) => `${o.method} ${o.path}`).filter((r) => r !== "GET /health");
    assertEquals(publicOps.sort(), [...PUBLIC_ROUTES].sort());
    assertEquals(doc.components.securitySchemes.bearerAuth.scheme, "bearer");
  });

  await t.step("every other operation answers 401 AUTH_001 without a token", async () => {
    for (const op of ops) {
      if (op.path === "/health" || PUBLIC_ROUTES.has(`${op.method} ${op.path}`)) continue;
      const res = await call(s, op.method, concrete(op.path), op.spec.requestBody ? { body: {} } : {});
      assertProblem(res, 401, "AUTH_001");
    }
  });

  await t.step(
    "an empty body is VAL_002 naming every required field, on every operation with a body",
    async () => {
      for (const op of ops.filter((o) => o.spec.requestBody && !isFhir(o))) {
        const schema = op.spec.requestBody.content["application/json"].schema;
        const resolved = schema.$ref ? doc.components.schemas[schema.$ref.split("/").pop()] : schema;
        const required: string[] = resolved.required ?? [];
        if (required.length === 0) continue;
        const res = await call(s, op.method, concrete(op.path), { token: admin.token, body: {} });
        assertEquals(res.body.code, "VAL_002", `${op.method} ${op.path}: ${JSON.stringify(res.body)}`);
        assertMissingFields(res, ...required);
      }
    },
  );

  await t.step("a wrong type in any field is 400 naming that field", async () => {
    for (const op of ops.filter((o) => o.spec.requestBody && !isFhir(o))) {
      const schema = op.spec.requestBody.content["application/json"].schema;
      const resolved = schema.$ref ? doc.components.schemas[schema.$ref.split("/").pop()] : schema;
      for (const [field, fieldSchema] of Object.entries(resolved.properties ?? {})) {
        const value = wrongValue(fieldSchema);
        if (value === undefined) continue;
        const res = await call(s, op.method, concrete(op.path), {
          token: admin.token,
          body: { [field]: value },
        });
        assertFieldErrors(res, field);
      }
    }
  });

  await t.step("malformed JSON and a non-object body are 400 naming the body, never 5xx", async () => {
    for (const op of ops.filter((o) => o.spec.requestBody && !isFhir(o))) {
      const path = concrete(op.path);
      const headers = { "Content-Type": "application/json" };
      assertFieldErrors(
        await call(s, op.method, path, { token: admin.token, rawBody: "{oops", headers }),
        "body",
      );
      const arrayBody = await call(s, op.method, path, { token: admin.token, rawBody: "[1,2]", headers });
      assertProblem(arrayBody, 400, "VAL_001");
    }
  });

  await t.step("an overlong string in any string field is 400 naming that field", async () => {
    for (const op of ops.filter((o) => o.spec.requestBody && !isFhir(o))) {
      const schema = op.spec.requestBody.content["application/json"].schema;
      const resolved = schema.$ref ? doc.components.schemas[schema.$ref.split("/").pop()] : schema;
      for (const [field, fieldSchema] of Object.entries(resolved.properties ?? {})) {
        // deno-lint-ignore no-explicit-any
        if ((fieldSchema as any).type !== "string") continue;
        const res = await call(s, op.method, concrete(op.path), {
          token: admin.token,
          body: { [field]: "x".repeat(100_000) },
        });
        assertFieldErrors(res, field);
      }
    }
  });

  await t.step("a bad uuid in a path is 400 naming the parameter", async () => {
    for (const op of ops.filter((o) => o.path.includes("{id}") && !isFhir(o))) {
      // valid values for the query parameters some routes require, so that only the id is wrong
      const takes = (name: string) =>
        (op.spec.parameters ?? []).some((p: { in: string; name: string }) =>
          p.in === "query" && p.name === name
        );
      const query = takes("from") ? "?from=2030-01-01T00:00:00Z&to=2030-01-02T00:00:00Z" : "";
      const res = await call(s, op.method, op.path.replace("{id}", "not-a-uuid") + query, {
        token: admin.token,
        body: op.spec.requestBody ? {} : undefined,
      });
      assertFieldErrors(res, "id");
    }
  });

  await t.step("a body over 1 MiB is 413 REQ_001", async () => {
    const res = await call(s, "POST", "/v1/auth/login", {
      rawBody: JSON.stringify({ phone: "+5491100000001", password: "x".repeat(1_100_000) }),
      headers: { "Content-Type": "application/json" },
    });
    assertProblem(res, 413, "REQ_001");
  });

  await t.step("unknown routes are ProblemDetails: 404 with a token, 401 without", async () => {
    assertProblem(await call(s, "GET", "/v1/nothing-here", { token: admin.token }), 404, "RES_001");
    assertProblem(await call(s, "GET", "/v1/nothing-here"), 401, "AUTH_001");
    assertProblem(await call(s, "GET", "/nothing-here"), 404, "RES_001");
  });

  await t.step("Swagger UI is served", async () => {
    const res = await fetch(s.api("/docs"));
    assertEquals(res.status, 200);
    assert((await res.text()).includes("swagger"));
  });
});

testBothDrivers("contract: health, CORS, request ids and secure headers", async (t, s) => {
  await t.step("health is public and reports the database", async () => {
    const res = await call(s, "GET", "/health");
    assertEquals(res.status, 200);
    assertEquals(res.body.status, "ok");
    assertEquals(res.body.database.status, "up");
    assertEquals(res.body.database.driver, s.driver);
  });

  await t.step("a CORS preflight from a browser origin is allowed, without credentials", async () => {
    const res = await fetch(s.api("/v1/auth/login"), {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.consultorio.dev",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
      },
    });
    await res.body?.cancel();
    assertEquals(res.status, 204);
    assertEquals(res.headers.get("access-control-allow-origin"), "*");
    assertEquals(res.headers.get("access-control-allow-credentials"), null);
    for (const method of ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS"]) {
      assert(res.headers.get("access-control-allow-methods")!.includes(method));
    }
  });

  await t.step("a request id is echoed when sane, generated otherwise", async () => {
    const given = await fetch(s.api("/health"), { headers: { "X-Request-Id": "req-123" } });
    await given.body?.cancel();
    assertEquals(given.headers.get("x-request-id"), "req-123");
    const generated = await fetch(s.api("/health"));
    await generated.body?.cancel();
    assert(/^[0-9a-f-]{36}$/.test(generated.headers.get("x-request-id") ?? ""));
  });

  await t.step("secure headers are set", async () => {
    const res = await fetch(s.api("/health"));
    await res.body?.cancel();
    assertEquals(res.headers.get("x-content-type-options"), "nosniff");
    assert(res.headers.get("strict-transport-security"));
    assertEquals(res.headers.get("x-frame-options"), "SAMEORIGIN");
  });
});
