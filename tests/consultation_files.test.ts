/**
 * A consultation's files in Storage (issue 15), over real HTTP, on PGlite and
 * on PostgreSQL: the API, the database (policies and the trigger on
 * storage.objects) and @supabase/supabase-js are the real ones; Storage is
 * the LOCAL STAND-IN (supabase/local/storage/), which runs every request as
 * the caller's role with their claims, so the policies decide as on Supabase.
 *
 * Covered, each attack next to the rightful request: a participant deleting
 * the other party's confirmed file or their own, the uploader deleting their
 * unconfirmed one, direct uploads without a prepare (also as the service
 * role), uploads through a URL signed before the close, deletes after it;
 * an HTML page declared as image/png (and other mismatches) refused at
 * confirm with its object removed, genuine files confirmed; downloads inline
 * for images, as attachments under their own name otherwise; control
 * characters in a file name; a lost object answering 404.
 */
import { createClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { assertProblem } from "./helpers/assertions.ts";
import type { TestPatient } from "./helpers/clinic.ts";
import { consultationFixture as fixture, openConsultation, storageAs } from "./helpers/consultations.ts";
import { assert, assertEquals, assertMatch } from "./helpers/std.ts";
import { call, testBothDrivers, type TestStack, type TestUser } from "./helpers/stack.ts";

// deno-lint-ignore no-explicit-any
type Payload = any;

function expectStatus(res: { status: number; body: Payload }, status: number) {
  assertEquals(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
}

const FILES_BUCKET = "consultation-files";

/** Prepares a file through the API and uploads it through its signed URL, as a frontend does. */
async function uploadFile(
  s: TestStack,
  id: string,
  who: TestUser | TestPatient,
  file: { filename: string; mimeType: string; bytes: Uint8Array<ArrayBuffer> },
) {
  const prepared = await call(s, "POST", `/v1/consultations/${id}/files/prepare`, {
    token: who.token,
    body: { filename: file.filename, mimeType: file.mimeType, sizeBytes: file.bytes.length },
  });
  expectStatus(prepared, 201);
  const { fileId, objectKey, uploadUrl } = prepared.body.data;
  const uploaded = await storageAs(s, who.token).from(FILES_BUCKET).uploadToSignedUrl(
    objectKey,
    new URL(uploadUrl).searchParams.get("token")!,
    new Blob([file.bytes], { type: file.mimeType }),
  );
  return { fileId: fileId as string, key: objectKey as string, bytes: file.bytes, error: uploaded.error };
}

/** The same, for an upload that must succeed. */
async function uploaded(...args: Parameters<typeof uploadFile>) {
  const upload = await uploadFile(...args);
  assertEquals(upload.error, null);
  return upload;
}

const textFile = (text: string) => ({
  filename: "notas.txt",
  mimeType: "text/plain",
  bytes: new TextEncoder().encode(text),
});

async function confirm(s: TestStack, id: string, who: TestUser | TestPatient, fileId: string) {
  expectStatus(
    await call(s, "POST", `/v1/consultations/${id}/files/confirm`, { token: who.token, body: { fileId } }),
    201,
  );
}

/** The object as Storage has it, asked with the service role (no policy in the way). */
async function stored(s: TestStack, key: string) {
  return await s.stack.deps.storage.objectInfo(FILES_BUCKET, key);
}

/** What the API's download hands out for the file, fetched: its bytes, or the failure. */
async function downloaded(s: TestStack, id: string, who: TestUser | TestPatient, fileId: string) {
  const res = await call(s, "GET", `/v1/consultations/${id}/files/${fileId}/download`, { token: who.token });
  expectStatus(res, 200);
  return new Uint8Array(await (await fetch(res.body.data.downloadUrl)).arrayBuffer());
}

testBothDrivers("consultations: Storage keeps its files as the record has them", async (t, s) => {
  const f = await fixture(s);
  const id = await openConsultation(s, f);
  const asPatient = storageAs(s, f.patient.token).from(FILES_BUCKET);
  const asDoctor = storageAs(s, f.doctor.token).from(FILES_BUCKET);

  const doctors = await uploadFile(s, id, f.doctor, textFile("Indicaciones del médico"));
  const patients = await uploadFile(s, id, f.patient, textFile("Síntomas del paciente"));
  const pending = await uploadFile(s, id, f.patient, textFile("Un borrador"));

  await t.step("an upload to the URL its prepare signed works", async () => {
    for (const upload of [doctors, patients, pending]) {
      assertEquals(upload.error, null);
      assertEquals((await stored(s, upload.key))?.size, upload.bytes.length);
    }
    await confirm(s, id, f.doctor, doctors.fileId);
    await confirm(s, id, f.patient, patients.fileId);
  });

  await t.step("a participant's delete of the other party's confirmed file is refused", async () => {
    const removed = await asPatient.remove([doctors.key]);
    assertEquals(removed.data, [], JSON.stringify(removed));
    const one = await fetch(`${s.origin}/storage/v1/object/${FILES_BUCKET}/${doctors.key}`, {
      method: "DELETE",
      headers: { apikey: s.stack.anonKey, Authorization: `Bearer ${f.patient.token}` },
    });
    assertEquals((await one.json()).statusCode, "403");
    assertEquals(await downloaded(s, id, f.doctor, doctors.fileId), doctors.bytes);
    assertEquals(await downloaded(s, id, f.patient, doctors.fileId), doctors.bytes);
  });

  await t.step("one's own confirmed file is part of the record: not deleted either", async () => {
    assertEquals((await asPatient.remove([patients.key])).data, []);
    assertEquals((await asDoctor.remove([doctors.key])).data, []);
    assertEquals(await downloaded(s, id, f.doctor, patients.fileId), patients.bytes);
    // Not by the service role either: the database refuses it to every role.
    const admin = createClient(s.origin, s.stack.serviceRoleKey).storage.from(FILES_BUCKET);
    const byService = await admin.remove([patients.key]);
    assert(byService.error, "the service role's delete of a confirmed file is refused");
    assertEquals((await stored(s, patients.key))?.size, patients.bytes.length);
  });

  await t.step(
    "an unconfirmed file: the other party neither reads nor deletes it; its uploader does",
    async () => {
      assertStorageRefused((await asDoctor.createSignedUrl(pending.key, 60)).error, "404");
      assertEquals((await asDoctor.remove([pending.key])).data, []);
      assert(await stored(s, pending.key), "still there after the doctor's delete");
      assertEquals((await asPatient.createSignedUrl(pending.key, 60)).error, null);
      const removed = await asPatient.remove([pending.key]);
      assertEquals(removed.data?.map((o) => o.name), [pending.key]);
      assertEquals(await stored(s, pending.key), undefined);
    },
  );

  await t.step("a direct upload into the consultation's folder, without a prepare, is refused", async () => {
    const key = `${id}/${crypto.randomUUID()}`;
    const blob = new Blob(["<html><script>alert(1)</script></html>"], { type: "text/plain" });
    assertStorageRefused((await asPatient.upload(key, blob)).error, "403");
    assertStorageRefused((await asPatient.createSignedUploadUrl(key)).error, "403");
    // Nor over a prepared slot's object, nor over a confirmed one (an upsert).
    assertStorageRefused((await asPatient.upload(patients.key, blob, { upsert: true })).error, "403");
    // Even the service role stores nothing where no prepare made a slot.
    const admin = createClient(s.origin, s.stack.serviceRoleKey).storage.from(FILES_BUCKET);
    assertStorageRefused((await admin.upload(key, blob)).error, "403");
    assertEquals(await stored(s, key), undefined);
    // Nor under a name of another shape.
    for (const name of [`${id}/notas.txt`, `${id}/${crypto.randomUUID()}/x`, "suelto.txt"]) {
      assertStorageRefused((await admin.upload(name, blob)).error, "403");
    }
    assertEquals(await downloaded(s, id, f.patient, patients.fileId), patients.bytes);
  });

  await t.step({
    name: "a delete waits for a confirmation holding the file's row, and then finds it kept (PostgreSQL)",
    // Two sessions at once: PGlite has one connection.
    ignore: s.driver !== "postgres",
    fn: async () => {
      const racing = await uploadFile(s, id, f.patient, textFile("confirmado mientras se borra"));
      assertEquals(racing.error, null);
      const other = postgres(s.stack.config.database.url!, { max: 1, onnotice: () => {} });
      let removal: ReturnType<typeof asPatient.remove> | undefined;
      try {
        await other.begin(async (tx) => {
          // As the API's confirmation does: the row first, the status at the end.
          await tx`select 1 from public.consultation_files where id = ${racing.fileId} for update`;
          let settled = false;
          removal = asPatient.remove([racing.key]).finally(() => settled = true);
          await new Promise((resolve) => setTimeout(resolve, 300));
          assert(!settled, "the delete waits for the confirmation");
          await tx`update public.consultation_files set status = 'uploaded' where id = ${racing.fileId}`;
        });
      } finally {
        await other.end();
      }
      assertStorageRefused((await removal!).error, "403");
      assertEquals((await stored(s, racing.key))?.size, racing.bytes.length);
    },
  });

  await t.step(
    "after close nothing is written: neither through a URL signed before, nor deleted",
    async () => {
      const bytes = new TextEncoder().encode("tarde");
      const prepared = await call(s, "POST", `/v1/consultations/${id}/files/prepare`, {
        token: f.patient.token,
        body: { filename: "tarde.txt", mimeType: "text/plain", sizeBytes: bytes.length },
      });
      expectStatus(prepared, 201);
      const late = await uploadFile(s, id, f.patient, textFile("subido antes del cierre"));
      assertEquals(late.error, null);
      expectStatus(await call(s, "POST", `/v1/consultations/${id}/close`, { token: f.doctor.token }), 200);

      const { objectKey, uploadUrl } = prepared.body.data;
      const upload = await asPatient.uploadToSignedUrl(
        objectKey,
        new URL(uploadUrl).searchParams.get("token")!,
        new Blob([bytes], { type: "text/plain" }),
      );
      assertStorageRefused(upload.error, "403");
      assertEquals(await stored(s, objectKey), undefined);
      assertStorageRefused(
        (await asPatient.upload(`${id}/${crypto.randomUUID()}`, new Blob([bytes], { type: "text/plain" })))
          .error,
        "403",
      );
      assertEquals((await asPatient.remove([late.key])).data, []);
      assert(await stored(s, late.key), "the unconfirmed file stays once closed");
      // Reading the record still works.
      assertEquals(await downloaded(s, id, f.doctor, doctors.fileId), doctors.bytes);
    },
  );
});

/** A Storage refusal as supabase-js reports it: HTTP 400, the real status in `statusCode`. */
function assertStorageRefused(error: unknown, statusCode: string) {
  assert(error, `expected a Storage error ${statusCode}`);
  assertEquals((error as { statusCode?: string }).statusCode, statusCode, JSON.stringify(error));
}

/** The smallest complete PNG (1×1), then `extra` bytes of its IDAT. */
function pngFile(extra = 0): Uint8Array<ArrayBuffer> {
  const head = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52];
  const ihdr = [0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89];
  const idat = [
    (extra >>> 24) & 255,
    (extra >>> 16) & 255,
    (extra >>> 8) & 255,
    extra & 255,
    0x49,
    0x44,
    0x41,
    0x54,
  ];
  return new Uint8Array([...head, ...ihdr, ...idat, ...new Uint8Array(extra)]);
}

testBothDrivers("consultations: files are kept and served as what they are", async (t, s) => {
  const f = await fixture(s);
  const id = await openConsultation(s, f);
  const html = new TextEncoder().encode("<!doctype html><script>fetch('/x?c='+document.cookie)</script>");

  await t.step(
    "an HTML page declared as image/png: 400 FILE_003 naming fileId, its object removed",
    async () => {
      const fake = await uploaded(s, id, f.patient, {
        filename: "foto.png",
        mimeType: "image/png",
        bytes: html,
      });
      const res = await call(s, "POST", `/v1/consultations/${id}/files/confirm`, {
        token: f.patient.token,
        body: { fileId: fake.fileId },
      });
      assertProblem(res, 400, "FILE_003");
      assertEquals(res.body.errors[0].field, "fileId");
      assertEquals(await stored(s, fake.key), undefined, "the object is gone");
      const [row] = await s.stack.deps.db.queryAsOwner<{ status: string; messages: number }>(
        `select f.status, (select count(*)::int from public.consultation_messages m where m.file_id = f.id) as messages
         from public.consultation_files f where f.id = $1`,
        [fake.fileId],
      );
      assertEquals(row, { status: "pending", messages: 0 });
      // Also plain text that is not text (control bytes), and a PDF that is an HTML page.
      for (
        const [mimeType, bytes] of [["text/plain", new Uint8Array([0x41, 0, 0x1b, 0x42])], [
          "application/pdf",
          html,
        ]] as const
      ) {
        const other = await uploaded(s, id, f.patient, {
          filename: "x",
          mimeType,
          bytes: new Uint8Array(bytes),
        });
        assertProblem(
          await call(s, "POST", `/v1/consultations/${id}/files/confirm`, {
            token: f.patient.token,
            body: { fileId: other.fileId },
          }),
          400,
          "FILE_003",
        );
      }
    },
  );

  let pngId = "";
  await t.step("a genuine PNG, PDF and text are confirmed", async () => {
    const png = await uploaded(s, id, f.patient, {
      filename: "foto.png",
      mimeType: "image/png",
      bytes: pngFile(70_000),
    });
    await confirm(s, id, f.patient, png.fileId);
    pngId = png.fileId;
    const pdf = await uploaded(s, id, f.doctor, {
      filename: "receta.pdf",
      mimeType: "application/pdf",
      bytes: new TextEncoder().encode("%PDF-1.7\n1 0 obj << >> endobj\n"),
    });
    await confirm(s, id, f.doctor, pdf.fileId);
    const text = await uploaded(s, id, f.doctor, {
      filename: "indicaciones.txt",
      mimeType: "text/plain",
      bytes: new TextEncoder().encode("Reposo y líquidos.\r\n\tDos veces al día.\n"),
    });
    await confirm(s, id, f.doctor, text.fileId);
  });

  await t.step(
    "downloads: an image opens inline; anything else is an attachment under its name",
    async () => {
      const image = await call(s, "GET", `/v1/consultations/${id}/files/${pngId}/download`, {
        token: f.doctor.token,
      });
      expectStatus(image, 200);
      assertEquals(image.headers.get("x-content-type-options"), "nosniff");
      const inline = await fetch(image.body.data.downloadUrl);
      assertEquals(inline.headers.get("content-type"), "image/png");
      assertEquals(inline.headers.get("content-disposition"), null);
      await inline.body?.cancel();

      const named = await uploaded(s, id, f.doctor, {
        filename: "análisis de sangre.txt",
        mimeType: "text/plain",
        bytes: new TextEncoder().encode("Hemograma normal"),
      });
      await confirm(s, id, f.doctor, named.fileId);
      const res = await call(s, "GET", `/v1/consultations/${id}/files/${named.fileId}/download`, {
        token: f.patient.token,
      });
      expectStatus(res, 200);
      const attachment = await fetch(res.body.data.downloadUrl);
      const disposition = attachment.headers.get("content-disposition") ?? "";
      assertMatch(disposition, /^attachment;/);
      assert(disposition.includes("filename*=UTF-8''an%C3%A1lisis%20de%20sangre.txt"), disposition);
      assertEquals(await attachment.text(), "Hemograma normal");
    },
  );

  await t.step("a NUL or a control character in a file name is 400 naming filename", async () => {
    for (
      const filename of ["a\u0000b.txt", "informe\r\nX-Evil: 1.txt", "\u001b[31mrojo.txt", "del\u007f.txt"]
    ) {
      const res = await call(s, "POST", `/v1/consultations/${id}/files/prepare`, {
        token: f.patient.token,
        body: { filename, mimeType: "text/plain", sizeBytes: 10 },
      });
      assertProblem(res, 400, "VAL_001");
      assertEquals(res.body.errors[0].field, "filename", JSON.stringify(res.body));
    }
    const fine = await call(s, "POST", `/v1/consultations/${id}/files/prepare`, {
      token: f.patient.token,
      body: { filename: "informe médico (1).txt", mimeType: "text/plain", sizeBytes: 10 },
    });
    expectStatus(fine, 201);
    // The database holds the same rule for any other writer.
    let refused = false;
    try {
      await s.stack.deps.db.queryAsOwner(
        `insert into public.consultation_files (consultation_id, uploaded_by, filename, mime_type, size_bytes)
         values ($1, $2, e'a\\x01b.txt', 'text/plain', 10)`,
        [id, f.doctor.id],
      );
    } catch {
      refused = true;
    }
    assert(refused, "a control character in filename is refused by the database");
  });

  await t.step("a confirmed file whose object Storage lost is 404 RES_001, not 503", async () => {
    // Only an operator could lose it now: the database keeps a confirmed object from every role.
    const db = s.stack.deps.db;
    await db.queryAsOwner("alter table storage.objects disable trigger files_kept_once_confirmed");
    await db.queryAsOwner("delete from storage.objects where bucket_id = $1 and name = $2", [
      FILES_BUCKET,
      `${id}/${pngId}`,
    ]);
    await db.queryAsOwner("alter table storage.objects enable trigger files_kept_once_confirmed");
    const res = await call(s, "GET", `/v1/consultations/${id}/files/${pngId}/download`, {
      token: f.doctor.token,
    });
    assertProblem(res, 404, "RES_001");
  });
});
