/**
 * Schema fuzzing, bounded (the full run is `deno task fuzz`): requests
 * generated with fast-check from the API's own OpenAPI document, against the
 * real local stack, on PGlite and on PostgreSQL. See tests/fuzz/ for what is
 * generated and what each answer must be.
 */
import { assert, assertEquals } from "./helpers/std.ts";
import { testBothDrivers } from "./helpers/stack.ts";
import { fuzz } from "./fuzz/run-fuzz.ts";

const RUNS = 400;

testBothDrivers("fuzz: generated requests for every operation", async (t, s) => {
  const report = await fuzz(s, { numRuns: RUNS });

  await t.step("no 5xx, every 4xx a ProblemDetails naming the field, no write by a refused request", () => {
    assert(!report.failure, report.failure);
  });

  await t.step("every generated request was sent, valid ones and each kind of fault", () => {
    assertEquals(report.requests, RUNS);
    assert(report.operations >= 48, `only ${report.operations} operations`);
    const kinds = Object.keys(report.byFault);
    for (const kind of ["valid", "auth:", "field:", "body:"]) {
      assert(
        kinds.some((k) => k.startsWith(kind)),
        `no request of kind ${kind}: ${JSON.stringify(report.byFault)}`,
      );
    }
  });
});
