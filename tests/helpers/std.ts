/**
 * Assertions from Node's built-in `node:assert` (JSR's @std/assert is not
 * reachable from this project's registries), named like @std/assert.
 */
import nodeAssert from "node:assert/strict";

export function assert(condition: unknown, message?: string): asserts condition {
  nodeAssert.ok(condition, message);
}

export function assertEquals<T>(actual: T, expected: T, message?: string) {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

export function assertNotEquals<T>(actual: T, expected: T, message?: string) {
  nodeAssert.notDeepStrictEqual(actual, expected, message);
}

export function assertMatch(actual: string, expected: RegExp, message?: string) {
  nodeAssert.match(actual, expected, message);
}

export async function assertRejects(fn: () => Promise<unknown>, message?: string): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new nodeAssert.AssertionError({ message: message ?? "expected the promise to reject" });
}
