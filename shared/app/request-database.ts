/**
 * The request's database access: exactly one transaction, as the caller.
 * A second transaction in the same request is a programming error.
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

  #claim() {
    if (this.#used) throw new Error("A request runs exactly one database transaction");
    this.#used = true;
  }
}
