/**
 * Logs are structured JSON and hold no PHI or secret: after sign-ins, a
 * password reset, user management and failures, no phone, name, email,
 * password, reset code or token appears in any line.
 */
import { assert, assertEquals } from "./helpers/std.ts";
import { call, createUser, TEST_PASSWORD, testBothDrivers, uniquePhone } from "./helpers/stack.ts";

testBothDrivers("logs: one JSON line per request, without PHI or secrets", async (t, s) => {
  const admin = await createUser(s, "admin", { name: "Administradora", lastName: "Secreta" });
  const patient = await createUser(s, "patient", { name: "Paciente", lastName: "Reservado" });
  const secrets: string[] = [
    admin.phone,
    patient.phone,
    admin.email,
    patient.email,
    TEST_PASSWORD,
    admin.token,
  ];

  const newPhone = uniquePhone();
  await call(s, "POST", "/v1/user", {
    token: admin.token,
    body: { role: "patient", name: "Nombre", lastName: "Confidencial", phone: newPhone, email: "conf@x.dev" },
  });
  secrets.push(newPhone, "Confidencial", "conf@x.dev", "Reservado", "Secreta");
  await call(s, "POST", "/v1/user", { token: admin.token, body: { role: "patient", phone: newPhone } });
  await call(s, "POST", "/v1/auth/login", { body: { phone: patient.phone, password: "wrong-password-x" } });
  await call(s, "POST", "/v1/auth/forgot-password", { body: { phone: patient.phone } });
  await new Promise((r) => setTimeout(r, 20));
  const code = /(\d{6})/.exec(s.outbox.at(-1)!.body)![1];
  await call(s, "POST", "/v1/auth/reset-password", {
    body: { phone: patient.phone, code, newPassword: "nueva-secreta-7", confirmPassword: "nueva-secreta-7" },
  });
  secrets.push("nueva-secreta-7");
  await call(s, "GET", `/v1/user/${patient.id}`, { token: admin.token });

  await t.step("every line is JSON with a level, a message and a time", () => {
    assert(s.logs.length >= 8);
    for (const line of s.logs) {
      const entry = JSON.parse(line);
      assert(
        typeof entry.level === "string" && typeof entry.msg === "string" && typeof entry.time === "string",
      );
    }
  });

  await t.step("each request is logged with its route pattern, status and request id", () => {
    const requests = s.logs.map((l) => JSON.parse(l)).filter((e) => e.msg === "request");
    const byId = requests.find((e) => e.route === "/api/v1/user/:id");
    assert(byId, "the route pattern, not the path with its id");
    assertEquals(byId.status, 200);
    assert(typeof byId.requestId === "string" && typeof byId.durationMs === "number");
  });

  await t.step("no phone, name, email, password, code or token in any line", () => {
    const text = s.logs.join("\n");
    for (const secret of secrets) {
      assert(!text.includes(secret), `a log line contains ${secret.slice(0, 4)}…`);
    }
    assert(
      !new RegExp(`(?<![0-9a-f-])${code}(?![0-9a-f-])`).test(text),
      "a log line contains the reset code",
    );
  });
});
