/**
 * A TCP proxy that counts database round trips: per connection, every time
 * the client starts sending after the server has sent something (and the
 * first send of a new connection) is one round trip. Several queries written
 * before the server answers (a pipeline) are therefore one round trip.
 */

export interface RoundTripProxy {
  /** The port on 127.0.0.1 to connect to instead of the server's. */
  port: number;
  /** Round trips since the last reset, over every connection. */
  readonly roundTrips: number;
  /** Connections accepted since the last reset. */
  readonly connections: number;
  reset(): void;
  close(): Promise<void>;
}

type Side = "none" | "client" | "server";

export function startRoundTripProxy(target: { hostname: string; port: number }): RoundTripProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sockets = new Set<Deno.Conn>();
  const pumps: Promise<void>[] = [];
  let roundTrips = 0;
  let connections = 0;

  async function pump(from: Deno.Conn, to: Deno.Conn, onChunk: () => void) {
    try {
      for await (const chunk of from.readable) {
        onChunk();
        await writeAll(to, chunk);
      }
    } catch { /* the other side closed */ }
    for (const conn of [from, to]) close(conn);
  }

  function close(conn: Deno.Conn) {
    if (!sockets.delete(conn)) return;
    try {
      conn.close();
    } catch { /* already closed */ }
  }

  async function serve(client: Deno.Conn) {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: target.hostname, port: target.port });
    } catch {
      close(client);
      return;
    }
    sockets.add(upstream);
    connections++;
    let lastSent: Side = "none";
    await Promise.all([
      pump(client, upstream, () => {
        if (lastSent !== "client") roundTrips++;
        lastSent = "client";
      }),
      pump(upstream, client, () => {
        lastSent = "server";
      }),
    ]);
  }

  const accepting = (async () => {
    try {
      for await (const client of listener) {
        sockets.add(client);
        pumps.push(serve(client));
      }
    } catch { /* the listener was closed */ }
  })();

  return {
    port: (listener.addr as Deno.NetAddr).port,
    get roundTrips() {
      return roundTrips;
    },
    get connections() {
      return connections;
    },
    reset() {
      roundTrips = 0;
      connections = 0;
    },
    async close() {
      listener.close();
      for (const conn of [...sockets]) close(conn);
      await accepting;
      await Promise.all(pumps);
    },
  };
}

async function writeAll(conn: Deno.Conn, chunk: Uint8Array) {
  let written = 0;
  while (written < chunk.length) written += await conn.write(chunk.subarray(written));
}

/** The same database URL, reached through the proxy. */
export function throughProxy(databaseUrl: string, proxy: RoundTripProxy): string {
  const url = new URL(databaseUrl);
  url.hostname = "127.0.0.1";
  url.port = String(proxy.port);
  return url.toString();
}

/** Where a database URL's server listens (what the proxy forwards to). */
export function serverAddress(databaseUrl: string): { hostname: string; port: number } {
  const url = new URL(databaseUrl);
  return { hostname: url.hostname || "127.0.0.1", port: Number(url.port || 5432) };
}
