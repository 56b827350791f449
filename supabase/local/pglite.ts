import type { PGlite } from "@electric-sql/pglite";
import {
  AS_ROLE_SQL,
  AS_SERVICE_SQL,
  type Claims,
  type Database,
  type Queryable,
  type Row,
  START_REQUEST_SQL,
  startRequestParams,
} from "../../shared/db/database.ts";

/**
 * PostgreSQL compiled to WebAssembly, in this process. Its data lives in
 * `dataDir` (or in memory when none is given). Statements run one at a time.
 */
export async function createPGliteDatabase(dataDir?: string): Promise<Database> {
  const { PGlite } = await import("@electric-sql/pglite");
  // btree_gist: the exclusion constraint that forbids double booking needs it.
  const { btree_gist } = await import("@electric-sql/pglite/contrib/btree_gist");
  const pg: PGlite = await PGlite.create({ ...(dataDir ? { dataDir } : {}), extensions: { btree_gist } });
  return wrapPGlite(pg);
}

export function wrapPGlite(pg: PGlite): Database {
  async function transaction<T>(opening: [string, unknown[]], fn: (tx: Queryable) => Promise<T>) {
    return await pg.transaction(async (t) => {
      await t.query(opening[0], opening[1]);
      const tx: Queryable = {
        query: async <R = Row>(text: string, params?: readonly unknown[]) =>
          (await t.query<R>(text, params as unknown[])).rows,
      };
      return await fn(tx);
    });
  }

  return {
    driver: "pglite",
    asCaller: (claims: Claims, fn) => transaction([START_REQUEST_SQL, startRequestParams(claims)], fn),
    queryAsCaller: <T = Row>(claims: Claims, text: string, params?: readonly unknown[]) =>
      transaction(
        [START_REQUEST_SQL, startRequestParams(claims)],
        (tx) => tx.query<T>(text, params),
      ),
    asService: (fn) => transaction([AS_SERVICE_SQL, []], fn),
    asRole: (role, claims, fn) => transaction([AS_ROLE_SQL, [role, JSON.stringify(claims)]], fn),
    async execScript(script) {
      try {
        await pg.exec(script);
      } catch (error) {
        await pg.exec("rollback").catch(() => {});
        throw error;
      }
    },
    queryAsOwner: async <T = Row>(text: string, params?: readonly unknown[]) =>
      (await pg.query<T>(text, params as unknown[])).rows,
    async listen(channel, onNotify, onListen) {
      // In-process, one connection that lives as long as the database: LISTEN is never lost.
      const unlisten = await pg.listen(channel, onNotify);
      onListen?.();
      return unlisten;
    },
    async ping() {
      await pg.query("select 1");
    },
    async close() {
      await pg.close();
    },
  };
}
