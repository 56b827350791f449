import { createRouter } from "../../app/create-router.ts";
import * as handlers from "./fhir.handlers.ts";
import { operationOutcomes } from "./fhir.outcome.ts";
import * as routes from "./fhir.routes.ts";

const router = createRouter();
router.use("/v1/fhir/*", operationOutcomes);

export const fhirRouter = router
  .openapi(routes.metadata, handlers.metadata)
  .openapi(routes.everything, handlers.everything)
  .openapi(routes.read, handlers.read)
  .openapi(routes.importBundle, handlers.importBundle);
