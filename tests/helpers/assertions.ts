import { assert, assertEquals } from "./std.ts";
import type { CallResult } from "./stack.ts";

/** Asserts a ProblemDetails answer with this status and code. */
export function assertProblem(res: CallResult, status: number, code: string) {
  assertEquals(
    res.status,
    status,
    `expected ${status} ${code}, got ${res.status}: ${JSON.stringify(res.body)}`,
  );
  assertEquals(res.headers.get("content-type"), "application/problem+json");
  assertEquals(res.body.code, code);
  assertEquals(res.body.status, status);
  for (const key of ["type", "title", "detail", "timestamp"]) {
    assert(typeof res.body[key] === "string", `ProblemDetails.${key} missing`);
  }
}

/** Asserts 400 VAL_001 (an invalid or unknown field) naming each of `fields`. */
export function assertFieldErrors(res: CallResult, ...fields: string[]) {
  assertNamed(res, "VAL_001", fields);
}

/** Asserts 400 VAL_002 (a missing required field) naming each of `fields`. */
export function assertMissingFields(res: CallResult, ...fields: string[]) {
  assertNamed(res, "VAL_002", fields);
}

function assertNamed(res: CallResult, code: string, fields: string[]) {
  assertProblem(res, 400, code);
  const named = (res.body.errors ?? []).map((e: { field: string }) => e.field);
  for (const field of fields) {
    assert(named.includes(field), `no error for ${field}: ${JSON.stringify(named)}`);
  }
}

export function assertOk(res: CallResult, status = 200) {
  assertEquals(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  if (status !== 204) {
    assertEquals(res.body.success, true);
    assert(typeof res.body.timestamp === "string");
  }
}
