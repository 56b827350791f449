/**
 * Splits a SQL script into its statements, as PostgreSQL's lexer would:
 * semicolons inside quotes, quoted identifiers, dollar-quoted bodies and
 * comments do not end a statement. Each statement keeps its own text
 * (comments included), without the closing semicolon.
 */
export function splitStatements(script: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  const at = (s: string) => script.startsWith(s, i);
  while (i < script.length) {
    const c = script[i];
    if (at("--")) {
      const end = script.indexOf("\n", i);
      i = end === -1 ? script.length : end + 1;
    } else if (at("/*")) {
      let depth = 0;
      do {
        if (at("/*")) depth++, i += 2;
        else if (at("*/")) depth--, i += 2;
        else i++;
      } while (depth > 0 && i < script.length);
    } else if (c === "'" || c === '"') {
      // E'...' strings escape with a backslash; every quoted text doubles its quote.
      const backslash = c === "'" && /[eE]/.test(script[i - 1] ?? "") && !/\w/.test(script[i - 2] ?? "");
      i++;
      while (i < script.length) {
        if (backslash && script[i] === "\\") i += 2;
        else if (script[i] === c && script[i + 1] === c) i += 2;
        else if (script[i] === c) break;
        else i++;
      }
      i++;
    } else if (c === "$" && !/[\w$]/.test(script[i - 1] ?? "")) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(script.slice(i, i + 64))?.[0];
      if (!tag) {
        i++;
        continue;
      }
      const end = script.indexOf(tag, i + tag.length);
      i = end === -1 ? script.length : end + tag.length;
    } else if (c === ";") {
      statements.push(script.slice(start, i));
      start = ++i;
    } else {
      i++;
    }
  }
  statements.push(script.slice(start));
  return statements.filter((s) => stripComments(s).trim() !== "");
}

/** The statement without its comments (not inside quotes: enough to read what it starts with). */
export function stripComments(statement: string): string {
  return statement.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, " ");
}
