import { OpenAPIHono, z } from "@hono/zod-openapi";
import { ApiError, type FieldError } from "./problem.ts";
import type { AppBindings } from "./types.ts";

z.config(z.locales.es());

/** `["prescription", "medications", 0, "quantity"]` → `prescription.medications[0].quantity` */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => typeof key === "number" ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key),
    "",
  );
}

export function zodToApiError(error: z.ZodError, target?: string): ApiError {
  const errors: FieldError[] = error.issues.flatMap((issue) => {
    const at = fieldPath(issue.path);
    // A strict object's unknown fields: each named itself, not the object that holds them.
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ field: at ? `${at}.${key}` : key, message: issue.message }));
    }
    return [{ field: at || target || "body", message: issue.message }];
  });
  return new ApiError("VAL_001", "Los datos enviados no son válidos", { errors });
}

/** Every module's router: zod failures become 400 VAL_001 with one entry per field. */
export function createRouter() {
  return new OpenAPIHono<AppBindings>({
    strict: false,
    defaultHook: (result) => {
      if (!result.success) throw zodToApiError(result.error, result.target);
    },
  });
}
