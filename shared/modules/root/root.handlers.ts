import { envelope } from "../../app/envelope.ts";
import type { AppRouteHandler } from "../../app/types.ts";
import { API_VERSION } from "../health/health.handlers.ts";
import type { IndexRoute } from "./root.routes.ts";

export const index: AppRouteHandler<IndexRoute> = (c) =>
  c.json(envelope(`Consultorio API v${API_VERSION}`), 200);
