/**
 * Structured JSON logs, one object per line. Callers pass identifiers and
 * measurements only: never a body, a phone, a name, a token or a code.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, string | number | boolean | null | undefined>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export type LogSink = (line: string) => void;

export function createLogger(
  level: LogLevel = "info",
  sink: LogSink = (line) => console.log(line),
  base: LogFields = {},
): Logger {
  const write = (at: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[at] < RANK[level]) return;
    sink(JSON.stringify({ time: new Date().toISOString(), level: at, msg, ...base, ...fields }));
  };
  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    child: (fields) => createLogger(level, sink, { ...base, ...fields }),
  };
}

/** What may be logged of an unexpected error: its kind and where, not its text. */
export function describeError(error: unknown): LogFields {
  if (error instanceof Error) {
    const frames = (error.stack ?? "").split("\n").slice(1, 6).map((l) => l.trim()).join(" | ");
    const pgCode = (error as { code?: unknown }).code;
    return {
      errorName: error.name,
      pgCode: typeof pgCode === "string" ? pgCode : undefined,
      constraint: (error as { constraint_name?: string }).constraint_name,
      stack: frames,
    };
  }
  return { errorName: typeof error };
}
