/**
 * Decision 12: a missing required field is 400 VAL_002, any other invalid
 * field VAL_001, and unknown query parameters and body fields are refused
 * naming them, never silently dropped. One check in the router's validation
 * (shared/app/create-router.ts) does this for every route.
 */
import { assertFieldErrors, assertMissingFields, assertOk } from "./helpers/assertions.ts";
import { assertEquals } from "./helpers/std.ts";
import { call, createUser, testBothDrivers } from "./helpers/stack.ts";

testBothDrivers(
  "validation: missing is VAL_002, invalid and unknown are VAL_001, each field named",
  async (t, s) => {
    const admin = await createUser(s, "admin");
    const patient = await createUser(s, "patient");
    const post = (body: unknown) => call(s, "POST", "/v1/specialties", { token: admin.token, body });
    const name = () => `Validación ${crypto.randomUUID().slice(0, 8)}`;

    await t.step("a missing required body field is VAL_002 naming it", async () => {
      const res = await post({ description: "sin nombre" });
      assertMissingFields(res, "name");
      assertEquals(res.body.title, "Campo requerido faltante");
    });

    await t.step("a wrong type is VAL_001 naming the field", async () => {
      assertFieldErrors(await post({ name: 12345 }), "name");
    });

    await t.step("a missing field and a wrong one together are VAL_001 naming both", async () => {
      assertFieldErrors(
        await call(s, "POST", "/v1/appointments", { token: admin.token, body: { doctorId: 7 } }),
        "doctorId",
        "startAppointment",
      );
    });

    await t.step("an unknown body field is VAL_001 naming it, and nothing is written", async () => {
      const taken = name();
      assertFieldErrors(await post({ name: taken, color: "azul" }), "color");
      const list = await call(s, "GET", "/v1/specialties?limit=100", { token: admin.token });
      assertOk(list);
      assertEquals(list.body.data.filter((x: { name: string }) => x.name === taken), []);
    });

    await t.step("an unknown query parameter on a list is VAL_001 naming it", async () => {
      assertFieldErrors(
        await call(s, "GET", "/v1/appointments?withUser=x", { token: patient.token }),
        "withUser",
      );
      assertFieldErrors(
        await call(s, "GET", "/v1/appointments?limit=5&dateFrom=2026-01-01&priority=high", {
          token: patient.token,
        }),
        "dateFrom",
        "priority",
      );
    });

    await t.step(
      "the rightful requests succeed: known query parameters and a body of known fields",
      async () => {
        assertOk(
          await call(s, "GET", "/v1/appointments?limit=5&includeTotal=true", { token: patient.token }),
        );
        const first = await call(s, "GET", "/v1/appointments?limit=1", { token: patient.token });
        assertOk(first);
        assertOk(await post({ name: name(), description: "Con todos sus campos" }), 201);
      },
    );
  },
);
