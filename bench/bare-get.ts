/**
 * Server B, "bare baseline": a plain Hono route that runs the same SELECT as
 * the product's GET /v1/user/{id} through its own postgres.js pool (same
 * size, prepared statements) as the owner: no auth, no row-level security,
 * no envelope.
 */
import { Hono } from "hono";
import postgres from "postgres";
import { USER_COLUMNS, USER_FROM } from "../shared/modules/users/users.queries.ts";

/** Byte for byte the statement of the product's getOne handler. */
export const USER_BY_ID_SQL = `select ${USER_COLUMNS} ${USER_FROM} where u.id = $1 and u.deleted_at is null`;

export interface BareServer {
  origin: string;
  userUrl(id: string): string;
  close(): Promise<void>;
}

export function startBareServer(databaseUrl: string): BareServer {
  const sql = postgres(databaseUrl, { max: 10, prepare: true, onnotice: () => {} });
  const app = new Hono();
  app.get("/user/:id", async (c) => {
    const [row] = await sql.unsafe(USER_BY_ID_SQL, [c.req.param("id")], { prepare: true });
    return row ? c.json(row) : c.json({ error: "not found" }, 404);
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const origin = `http://127.0.0.1:${server.addr.port}`;

  return {
    origin,
    userUrl: (id) => `${origin}/user/${id}`,
    async close() {
      await server.shutdown();
      await sql.end({ timeout: 5 });
    },
  };
}
