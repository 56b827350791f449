/**
 * What a new password must be (issue 15, item 6; OWASP ASVS 5.0 V6.2): at
 * least 8 characters (15 recommended, said in the error), no composition
 * rules, not a common or breached password, not containing the user's phone
 * or name. Each rule refused and its neighbour accepted, first as a function,
 * then over real HTTP everywhere a password is set (an admin creating and
 * changing a user, reset-password), on both drivers.
 */
import { assertFieldErrors, assertOk } from "./helpers/assertions.ts";
import { assert, assertEquals } from "./helpers/std.ts";
import { call, createUser, ensureSpecialty, login, testBothDrivers, uniquePhone } from "./helpers/stack.ts";
import { passwordProblem } from "../shared/auth/password-policy.ts";

const owner = { phone: "+5491155501234", name: "José María", lastName: "Di Lorenzo" };

Deno.test("password policy: each rule, refused and accepted", async (t) => {
  await t.step("at least 8 characters, counted as characters; the message recommends 15", async () => {
    const short = await passwordProblem("k7#pQz2");
    assert(short?.includes("8") && short.includes("15"), short);
    assertEquals(await passwordProblem("k7#pQz2w"), undefined);
    // Four emoji are 8 UTF-16 units but 4 characters.
    assert(await passwordProblem("🔒🔑🚪🏠"));
  });

  await t.step("no composition rules: lower-case letters only, or spaces, are fine", async () => {
    assertEquals(await passwordProblem("unafraselargadeletras"), undefined);
    assertEquals(await passwordProblem("otra frase con espacios"), undefined);
  });

  await t.step("common and breached passwords are refused, in any case", async () => {
    for (const common of ["12345678", "password", "PassWord1", "qwertyuiop", "iloveyou", "trustno1"]) {
      assert(await passwordProblem(common), common);
    }
    assertEquals(await passwordProblem("consultorio-demo"), undefined, "the demo seed's password");
    assertEquals(await passwordProblem("test-password-1"), undefined, "the tests' password");
  });

  await t.step("the user's phone (its digits) is refused; other digits are not", async () => {
    assert(await passwordProblem("clave55501234!", owner));
    assert(await passwordProblem("x5491155501234", owner));
    assertEquals(await passwordProblem("clave55501299!", owner), undefined);
  });

  await t.step("the user's name: tokens of 3+ letters, any case, accents folded", async () => {
    assert(await passwordProblem("soy-jose-y-punto", owner));
    assert(await passwordProblem("MARIA.secreta.99", owner));
    assert(await passwordProblem("lorenzo-para-siempre", owner));
    // "Di" is shorter than 3 letters: not a token.
    assertEquals(await passwordProblem("diamante-azul-77", owner), undefined);
    assertEquals(await passwordProblem("caballo-bateria-grapa", owner), undefined);
  });
});

testBothDrivers(
  "password policy: everywhere a password is set, 400 VAL_001 naming the field",
  async (t, s) => {
    const admin = await createUser(s, "admin");
    const specialtyId = await ensureSpecialty(s);
    const newUser = (password: string) => ({
      role: "doctor",
      name: "Renata",
      lastName: "Quiroga",
      phone: uniquePhone(),
      email: `renata.${crypto.randomUUID().slice(0, 6)}@consultorio.dev`,
      specialtyId,
      password,
    });
    const created = async (phone: string) =>
      (await s.stack.deps.db.queryAsOwner("select 1 from public.users where phone = $1", [phone])).length;

    await t.step("creating a user: each rule refused, nothing written; a good one signs in", async () => {
      for (const bad of ["corta1", "12345678", "password", "renata-2026!", "QUIROGA-clave"]) {
        const body = newUser(bad);
        const res = await call(s, "POST", "/v1/user", { token: admin.token, body });
        assertFieldErrors(res, "password");
        assertEquals(await created(body.phone), 0, bad);
      }
      const withPhone = newUser("");
      withPhone.password = `mi-${withPhone.phone.slice(-8)}`;
      assertFieldErrors(
        await call(s, "POST", "/v1/user", { token: admin.token, body: withPhone }),
        "password",
      );

      const body = newUser("caballo bateria grapa");
      assertOk(await call(s, "POST", "/v1/user", { token: admin.token, body }), 201);
      assert(await login(s, body.phone, "caballo bateria grapa"));
    });

    await t.step(
      "changing a user's password: refused against the name it gets; accepted otherwise",
      async () => {
        const body = newUser("caballo bateria grapa");
        const { id } = (await call(s, "POST", "/v1/user", { token: admin.token, body })).body.data;
        const patch = (changes: Record<string, unknown>) =>
          call(s, "PATCH", `/v1/user/${id}`, { token: admin.token, body: changes });
        assertFieldErrors(await patch({ password: "password" }), "password");
        assertFieldErrors(await patch({ password: "renata-por-siempre" }), "password");
        const renamed = await patch({ name: "Valentina", password: "valentina-clave-1" });
        assertFieldErrors(renamed, "password");
        // Nothing of a refused change was written: the name and the password are the old ones.
        const [row] = await s.stack.deps.db.queryAsOwner<{ name: string }>(
          "select name from public.users where id = $1",
          [id],
        );
        assertEquals(row.name, "Renata");
        assert(await login(s, body.phone, "caballo bateria grapa"));
        assertOk(await patch({ password: "otra frase que recuerdo" }));
        assert(await login(s, body.phone, "otra frase que recuerdo"));
      },
    );

    await t.step(
      "reset-password: refused (the name only once the code matched); the code then works",
      async () => {
        const patient = await createUser(s, "patient", { name: "Hortensia", lastName: "Paz" });
        await call(s, "POST", "/v1/auth/forgot-password", { body: { phone: patient.phone } });
        const message = await (async () => {
          for (let i = 0; i < 100 && !s.outbox.some((m) => m.to === patient.phone); i++) {
            await new Promise((r) => setTimeout(r, 20));
          }
          return s.outbox.find((m) => m.to === patient.phone)!;
        })();
        const code = /(\d{6})/.exec(message.body)![1];
        const reset = (newPassword: string, withCode = code) =>
          call(s, "POST", "/v1/auth/reset-password", {
            body: { phone: patient.phone, code: withCode, newPassword, confirmPassword: newPassword },
          });
        assertFieldErrors(await reset("password"), "newPassword");
        assertFieldErrors(await reset("1234567"), "newPassword");
        assertFieldErrors(await reset(`tel${patient.phone.slice(-8)}`), "newPassword");
        // A wrong code never reveals whether the password holds the user's name.
        const wrong = code === "000000" ? "111111" : "000000";
        assertEquals((await reset("hortensia-clave", wrong)).body.code, "AUTH_003");
        assertFieldErrors(await reset("hortensia-clave"), "newPassword");
        assertOk(await reset("una frase nueva y larga"));
        assert(await login(s, patient.phone, "una frase nueva y larga"));
      },
    );
  },
);
