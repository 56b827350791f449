/**
 * The request's database access: one transaction, as the caller. A second
 * one is a programming error, except `afterward`: the outcome of an outside
 * call (LiveKit, Twilio), recorded once the call is done, so that no
 * connection waits for the service.
 */
import type { Claims, Database, Queryable, Row } from "../db/database.ts";

export class RequestDatabase {
  #used = false;

  constructor(private readonly db: Database, private readonly claims: Claims) {}

  /** Whether the request ran its transaction (and so had its session checked). */
  get used(): boolean {
    return this.#used;
  }

  /** One statement, in its own transaction as the caller (one round trip). */
  query<T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    this.#claim();
    return this.db.queryAsCaller<T>(this.claims, sql, params);
  }

  /** Several statements in one transaction as the caller. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    this.#claim();
    return this.db.asCaller(this.claims, fn);
  }

  /** Checks the session without running anything else. */
  verifySession(): Promise<void> {
    this.#claim();
    return this.db.asCaller(this.claims, async () => {});
  }

  /**
   * A further transaction after the first, to record what an outside call
   * did. The two are not atomic: the first must leave a state from which a
   * retry resumes (see the video handlers).
   */
  afterward<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    if (!this.#used) throw new Error("afterward() follows the request's transaction");
    return this.db.asCaller(this.claims, fn);
  }

  #claim() {
    if (this.#used) throw new Error("A request runs exactly one database transaction");
    this.#used = true;
  }
}
