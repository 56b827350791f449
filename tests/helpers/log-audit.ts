/**
 * The log audit's two halves, written while the whole suite runs:
 *   - every line the product logs (the stack's logger), and
 *   - every sensitive value the tests hand to it: names, phones, e-mails,
 *     passwords, reset codes, tokens, clinical fields and message texts.
 * `deno task test` sets TEST_LOG_AUDIT_DIR and, once the suite is over, runs
 * tests/log_audit.after-suite.ts, which fails if any value appears in any line.
 * Outside `deno task test` (no directory) nothing is recorded.
 */
const AUDIT_DIR = Deno.env.get("TEST_LOG_AUDIT_DIR");
const LOG_FILE = AUDIT_DIR && `${AUDIT_DIR}/logs-${crypto.randomUUID()}.jsonl`;
const SENSITIVE_FILE = AUDIT_DIR && `${AUDIT_DIR}/sensitive-${crypto.randomUUID()}.txt`;

/** Request and response fields whose string values are PHI or secrets. */
const SENSITIVE_FIELDS = new Set([
  "accessToken",
  "address",
  "allergies",
  "birthDate",
  "code",
  "confirmPassword",
  "consultationReason",
  "content",
  "currentPassword",
  "description",
  "diagnostics",
  "email",
  "familyHistory",
  "filename",
  "lastName",
  "medicalHistory",
  "medications",
  "name",
  "newPassword",
  "note",
  "password",
  "phone",
  "physicalExams",
  "reason",
  "symptoms",
  "text",
  "token",
  "treatment",
]);

/** Values too short or too common to be told apart from ordinary log words are not audited. */
const MIN_LENGTH = 5;
const recorded = new Set<string>();

export function recordLogLine(line: string) {
  if (LOG_FILE) Deno.writeTextFileSync(LOG_FILE, line + "\n", { append: true });
}

/**
 * Words of the API's own paths (`/v1/auth/forgot-password`): a test that sends
 * one as a password (a common one, refused) cannot tell it from the route in a
 * log line. Such a password is refused before it is stored or hashed.
 */
const ROUTE_WORDS = new Set(["password"]);

export function recordSensitive(...values: (string | undefined | null)[]) {
  if (!SENSITIVE_FILE) return;
  const fresh = values.filter((v): v is string =>
    typeof v === "string" && v.trim().length >= MIN_LENGTH && !v.includes("\n") && !recorded.has(v) &&
    !ROUTE_WORDS.has(v.toLowerCase())
  );
  if (fresh.length === 0) return;
  for (const value of fresh) recorded.add(value);
  Deno.writeTextFileSync(SENSITIVE_FILE, fresh.join("\n") + "\n", { append: true });
}

/** Secrets a response hands out: tokens and signed URLs (whose query carries a token). */
const SECRET_RESPONSE_FIELDS = new Set(["accessToken", "token", "uploadUrl", "downloadUrl"]);

/** Records the sensitive fields found anywhere in a request body. */
export function recordSensitiveRequest(body: unknown) {
  recordFields(body, SENSITIVE_FIELDS);
}

/** Records the secrets found anywhere in a response body (not its ProblemDetails `code`). */
export function recordSensitiveResponse(body: unknown) {
  recordFields(body, SECRET_RESPONSE_FIELDS);
}

function recordFields(value: unknown, fields: Set<string>) {
  if (!SENSITIVE_FILE || value === null || typeof value !== "object") return;
  for (const [key, inner] of Object.entries(value)) {
    if (typeof inner === "string" && fields.has(key)) recordSensitive(inner);
    else if (typeof inner === "object") recordFields(inner, fields);
  }
}
