import type { Context } from "hono";
import type { AppRole } from "../auth/jwt.ts";
import { forbidden } from "./problem.ts";
import type { AppBindings } from "./types.ts";

/** Refuses the request with 403 AUTH_002 unless the caller has one of `roles`. */
export function requireRole(c: Context<AppBindings>, ...roles: AppRole[]): void {
  if (!roles.includes(c.var.caller.user_role)) throw forbidden();
}
