/**
 * The client loop, the same for every server: one HTTP client per target
 * (keep-alive), each request timed with performance.now() from the call to
 * the last byte of the body. Any answer but 200 stops the bench.
 */

export interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  client: Deno.HttpClient;
  /** Closes the client's connections (before its server shuts down). */
  close(): void;
}

export function createTarget(name: string, url: string, headers: Record<string, string> = {}): Target {
  const client = Deno.createHttpClient({});
  return { name, url, headers, client, close: () => client.close() };
}

/** One request; its latency in milliseconds. */
export async function timedRequest(target: Target): Promise<number> {
  const started = performance.now();
  const res = await fetch(target.url, { headers: target.headers, client: target.client });
  const body = await res.arrayBuffer();
  const elapsed = performance.now() - started;
  if (res.status !== 200) {
    throw new Error(`${target.name}: ${res.status} ${new TextDecoder().decode(body).slice(0, 500)}`);
  }
  return elapsed;
}

/** `count` calls of `fn`, one after the other; each one's latency in milliseconds. */
export async function timeCalls(count: number, fn: () => Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await fn();
    latencies.push(performance.now() - started);
  }
  return latencies;
}

export async function runSequential(target: Target, count: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) latencies.push(await timedRequest(target));
  return latencies;
}

export interface ConcurrentRun {
  latencies: number[];
  elapsedMs: number;
  requestsPerSecond: number;
}

/** `count` requests shared by `workers` loops that each send one at a time. */
export async function runConcurrent(target: Target, count: number, workers: number): Promise<ConcurrentRun> {
  const latencies: number[] = [];
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      latencies.push(await timedRequest(target));
    }
  };
  const begin = performance.now();
  await Promise.all(Array.from({ length: workers }, worker));
  const elapsedMs = performance.now() - begin;
  return { latencies, elapsedMs, requestsPerSecond: count / (elapsedMs / 1000) };
}

/** Sequential then concurrent requests whose timings are thrown away. */
export async function warmUp(target: Target, count: number, workers: number): Promise<void> {
  await runSequential(target, count);
  await runConcurrent(target, count, workers);
}

/** One request's parsed JSON body (for checking what a server answers). */
export async function fetchJson(target: Target): Promise<Record<string, unknown>> {
  const res = await fetch(target.url, { headers: target.headers, client: target.client });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`${target.name}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/**
 * Several calls measured alike: `warmup` untimed calls of each, then `rounds`
 * rounds of `count / rounds` calls of each, in reverse order every other
 * round so that drift favours none; each call's pooled latencies.
 */
export async function alternateCalls(
  calls: ReadonlyArray<() => Promise<unknown>>,
  options: { count: number; warmup: number; rounds?: number },
): Promise<number[][]> {
  const rounds = options.rounds ?? 2;
  for (const call of calls) await timeCalls(options.warmup, call);
  const latencies = calls.map((): number[] => []);
  const indexes = calls.map((_, i) => i);
  for (let round = 0; round < rounds; round++) {
    for (const i of round % 2 === 0 ? indexes : [...indexes].reverse()) {
      latencies[i].push(...await timeCalls(Math.ceil(options.count / rounds), calls[i]));
    }
  }
  return latencies;
}
