/**
 * The clinic's daily budget of model calls: every call to OpenAI (the REST
 * endpoint's and the WhatsApp assistant's, their tool rounds and summaries)
 * spends one, counted in the database before the call goes out. The count
 * commits at once, in a transaction of its own, so parallel calls cannot
 * slip past it and the budget does not hold a lock while OpenAI answers.
 */
import type { ChatModel } from "../../adapters/openai/openai.ts";
import { rateLimitKey } from "../../auth/rate-limits.ts";
import type { Database } from "../../db/database.ts";
import { CallNotMade } from "../../app/outside.ts";

/** The budget is spent: no call was made. */
export class ModelBudgetExceededError extends CallNotMade {
  override name = "ModelBudgetExceededError";
  constructor(readonly retryAfterSeconds: number) {
    super("The clinic's daily budget of model calls is spent");
  }
}

export function withDailyBudget(model: ChatModel, db: Database, callsPerDay: number): ChatModel {
  const key = rateLimitKey("openai:clinic", "model-calls");
  return {
    model: model.model,
    async complete(messages, tools) {
      const [spent] = await db.asService((tx) =>
        key.then((k) =>
          tx.query<{ allowed: boolean; retry_after_seconds: number }>(
            "select * from private.hit_daily_limit($1, $2)",
            [k, callsPerDay],
          )
        )
      );
      if (!spent.allowed) throw new ModelBudgetExceededError(spent.retry_after_seconds);
      return await model.complete(messages, tools);
    },
  };
}
