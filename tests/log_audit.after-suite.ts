/**
 * The log audit, run by `deno task test` once the whole suite is over (its
 * name keeps `deno test tests/` from picking it up earlier): no line the
 * product logged during the suite holds a sensitive value a test gave it
 * (tests/helpers/log-audit.ts records both) or the seed's PHI.
 */
import { assert } from "./helpers/std.ts";

const AUDIT_DIR = Deno.env.get("TEST_LOG_AUDIT_DIR");

/** The seed's PHI: the people's names, phones and e-mails, and every free-text clinical value. */
function seededValues(seed: string): string[] {
  const values: string[] = [];
  for (const m of seed.matchAll(/'(?:admin|doctor|patient)', '([^']+)', '([^']+)', '([^']+)', '([^']+)'/g)) {
    values.push(m[1], m[2], m[3], m[4]);
  }
  for (const [, literal] of seed.matchAll(/'([^']{5,})'/g)) {
    const prose = /^[\p{Lu}\p{Ll}][\p{L}\d.,]*( [\p{L}\d.,]+)+$/u.test(literal);
    if (prose && !/^(General practice|Cardiology)$/.test(literal)) values.push(literal);
  }
  return values.filter((v) => v.length >= 5);
}

/** The words of a text, cut at anything that is not a letter or a digit. */
const wordsOf = (text: string) => text.split(/[^\p{L}\p{N}]+/u).filter(Boolean);

Deno.test({
  name: "log audit: no PHI, password, reset code or token in any line the product logged",
  ignore: !AUDIT_DIR,
  async fn() {
    const lines: string[] = [];
    const sensitive = new Set<string>();
    for await (const entry of Deno.readDir(AUDIT_DIR!)) {
      const text = await Deno.readTextFile(`${AUDIT_DIR}/${entry.name}`);
      const rows = text.split("\n").filter(Boolean);
      if (entry.name.startsWith("logs-")) lines.push(...rows);
      else for (const row of rows) sensitive.add(row);
    }
    for (const value of seededValues(await Deno.readTextFile("supabase/seed.sql"))) sensitive.add(value);
    assert(lines.length > 1000, `only ${lines.length} log lines were captured: is the capture wired?`);
    assert(sensitive.size > 100, `only ${sensitive.size} sensitive values were recorded`);

    // A value can only be in the logs if all its words are: a cheap filter before the exact search.
    const logWords = new Set(lines.flatMap(wordsOf));
    const leaks: string[] = [];
    for (const value of sensitive) {
      const words = wordsOf(value);
      if (words.length === 0 || !words.every((w) => logWords.has(w))) continue;
      const pattern = new RegExp(
        `(?<![\\p{L}\\p{N}])${value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\p{L}\\p{N}])`,
        "u",
      );
      const line = lines.find((l) => pattern.test(l));
      if (line) leaks.push(`${value.slice(0, 3)}… in ${line.slice(0, 160)}`);
    }
    assert(
      leaks.length === 0,
      `${leaks.length} sensitive values appear in the logs:\n${leaks.slice(0, 20).join("\n")}`,
    );
    console.log(`audited ${lines.length} log lines against ${sensitive.size} sensitive values`);
  },
});
