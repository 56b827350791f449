/**
 * Runs against the LOCAL STAND-IN for Supabase Storage (supabase/local/storage/,
 * served by the test stack's gateway at /storage/v1), not a Supabase project.
 * The client is the real @supabase/supabase-js, as a frontend uses it: signed
 * upload URLs, uploads through them, info, signed downloads byte for byte and
 * deletes, in a bucket this test adds (`test-files`: 10 MiB, the mime types of
 * `consultation-files`) with policies that let a consultation's doctor and
 * patient read, upload and delete under `{consultationId}/`: these tests are
 * about the stand-in, so they keep clear of the product buckets' own rules
 * (tested with the API in consultations.test.ts and chat.test.ts). Storage's
 * answers are RLS on storage.objects as the caller: only the consultation's
 * doctor and patient get anywhere; every attack fails while the same request
 * succeeds for them. Errors have Supabase's shape. The product-side
 * StorageAdapter makes the same round trip. On both drivers.
 */
import { createClient } from "@supabase/supabase-js";
import { SignJWT } from "jose";
import { StorageAdapterError } from "../shared/adapters/storage/storage.ts";
import { createSupabaseStorageAdapter } from "../shared/adapters/storage/supabase.ts";
import {
  at,
  book,
  PATIENT_PASSWORD,
  registerPatient,
  specialtyOf,
  type TestPatient,
} from "./helpers/clinic.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "./helpers/std.ts";
import { call, createUser, login, testBothDrivers, type TestStack, type TestUser } from "./helpers/stack.ts";
import { BUCKET, createTestBucket } from "./helpers/storage.ts";

const MIB = 1024 * 1024;

interface Fixture {
  doctor: TestUser;
  patient: TestPatient;
  otherDoctor: TestUser;
  otherPatient: TestPatient;
  admin: TestUser;
  consultationId: string;
}

/** A consultation between `doctor` and `patient`, and people who have no part in it. */
async function fixture(s: TestStack): Promise<Fixture> {
  await createTestBucket(s);
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const otherDoctor = await createUser(s, "doctor");
  const patient = await registerPatient(s, admin, "Pablo");
  const otherPatient = await registerPatient(s, admin, "Paula");
  const booked = await book(s, admin.token, {
    patientId: patient.id,
    doctorId: doctor.id,
    specialtyId: await specialtyOf(s, doctor),
    start: at(1, 10),
    end: at(1, 10, 30),
  });
  assertEquals(booked.status, 201, JSON.stringify(booked.body));
  const [row] = await s.stack.deps.db.queryAsOwner<{ id: string }>(
    `insert into public.consultations (appointment_id, doctor_id, patient_id, created_by)
     values ($1, $2, $3, $2) returning id`,
    [booked.body.data.id, doctor.id, patient.id],
  );
  return { admin, doctor, otherDoctor, patient, otherPatient, consultationId: row.id };
}

/** The bucket as a frontend signed in with `token` sees it (anon key + the user's JWT). */
function filesAs(s: TestStack, token?: string) {
  const client = createClient(
    s.origin,
    s.stack.anonKey,
    token ? { accessToken: () => Promise.resolve(token) } : {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    },
  );
  return client.storage.from(BUCKET);
}

/** A PNG header and random bytes. */
function pngBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let at = 8; at < size; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65536)));
  }
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return bytes;
}

const newPath = (f: Fixture, name = "file") => `${f.consultationId}/${crypto.randomUUID()}-${name}`;

interface ApiError {
  status?: number;
  statusCode?: string;
  message: string;
}

/** A Supabase Storage error as the client reports it: HTTP 400, the real status in `statusCode`. */
function assertStorageError(error: unknown, statusCode: string, message: string | RegExp) {
  assert(error, `expected a Storage error ${statusCode}`);
  const e = error as ApiError;
  assertEquals(e.status, 400, `HTTP status of ${JSON.stringify(e)}`);
  assertEquals(e.statusCode, statusCode, `statusCode of ${JSON.stringify(e)}`);
  if (typeof message === "string") assertEquals(e.message, message);
  else assertMatch(e.message, message);
}

async function rawJson(res: Response) {
  return { status: res.status, body: await res.json() };
}

/** Signs a URL token with the project's secret, as an attacker who had it would (or a clock gone by). */
async function forgeToken(s: TestStack, payload: Record<string, unknown>, expSecondsFromNow: number) {
  const now = Math.floor(Date.now() / 1000);
  return await new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(now - 3600)
    .setExpirationTime(now + expSecondsFromNow)
    .sign(new TextEncoder().encode(s.stack.tenantKeys.secret));
}

testBothDrivers("storage (local stand-in): signed upload, upload, download byte for byte", async (t, s) => {
  const f = await fixture(s);

  await t.step("the patient uploads through a signed URL and downloads the same bytes", async () => {
    const files = filesAs(s, f.patient.token);
    const path = newPath(f, "scan.png");
    const bytes = pngBytes(300 * 1024 + 7);

    const signed = await files.createSignedUploadUrl(path);
    assertEquals(signed.error, null);
    assertEquals(signed.data!.path, path);
    assert(
      signed.data!.signedUrl.startsWith(`${s.origin}/storage/v1/object/upload/sign/${BUCKET}/${path}?token=`),
      signed.data!.signedUrl,
    );

    const uploaded = await files.uploadToSignedUrl(
      path,
      signed.data!.token,
      new Blob([bytes], { type: "image/png" }),
    );
    assertEquals(uploaded.error, null);
    assertEquals(uploaded.data!.fullPath, `${BUCKET}/${path}`);

    const url = await files.createSignedUrl(path, 60);
    assertEquals(url.error, null);
    assert(url.data!.signedUrl.startsWith(`${s.origin}/storage/v1/object/sign/${BUCKET}/${path}?token=`));
    const res = await fetch(url.data!.signedUrl); // no apikey, no Authorization: the token is enough
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("content-type"), "image/png");
    assertEquals(res.headers.get("content-length"), String(bytes.length));
    assertEquals(new Uint8Array(await res.arrayBuffer()), bytes);
  });

  await t.step("the doctor uploads raw bytes (a PDF) and downloads them with his session", async () => {
    const files = filesAs(s, f.doctor.token);
    const path = newPath(f, "report.pdf");
    const bytes = new Uint8Array([...new TextEncoder().encode("%PDF-1.7\n"), ...pngBytes(4096).subarray(8)]);
    const signed = await files.createSignedUploadUrl(path);
    const uploaded = await files.uploadToSignedUrl(path, signed.data!.token, bytes, {
      contentType: "application/pdf",
    });
    assertEquals(uploaded.error, null);
    const downloaded = await files.download(path);
    assertEquals(downloaded.error, null);
    assertEquals(downloaded.data!.type, "application/pdf");
    assertEquals(new Uint8Array(await downloaded.data!.arrayBuffer()), bytes);
    // The patient of the consultation reads it too.
    const byPatient = await filesAs(s, f.patient.token).download(path);
    assertEquals(new Uint8Array(await byPatient.data!.arrayBuffer()), bytes);
  });

  await t.step("object info: size and type; exists() tells a missing object", async () => {
    const files = filesAs(s, f.patient.token);
    const path = newPath(f, "photo.webp");
    const signed = await files.createSignedUploadUrl(path);
    await files.uploadToSignedUrl(
      path,
      signed.data!.token,
      new Blob([pngBytes(1234)], { type: "image/webp" }),
    );
    const info = await files.info(path);
    assertEquals(info.error, null);
    assertEquals(info.data!.size, 1234);
    assertEquals(info.data!.contentType, "image/webp");
    assertEquals(info.data!.bucketId, BUCKET);
    assertEquals(info.data!.name, path);
    assertEquals((await files.exists(path)).data, true);
    assertEquals((await files.exists(newPath(f, "missing"))).data, false);
  });

  await t.step(
    "a signed upload URL opens one object once: another path, or a second upload, fail",
    async () => {
      const files = filesAs(s, f.patient.token);
      const path = newPath(f, "once.png");
      const signed = await files.createSignedUploadUrl(path);
      const elsewhere = await files.uploadToSignedUrl(newPath(f), signed.data!.token, pngBytes(10), {
        contentType: "image/png",
      });
      assertStorageError(elsewhere.error, "400", "Invalid signature");
      const first = await files.uploadToSignedUrl(path, signed.data!.token, pngBytes(10), {
        contentType: "image/png",
      });
      assertEquals(first.error, null);
      const again = await files.uploadToSignedUrl(path, signed.data!.token, pngBytes(10), {
        contentType: "image/png",
      });
      assertStorageError(again.error, "409", "The resource already exists");
    },
  );
});

testBothDrivers("storage (local stand-in): the bucket's size limit and mime types", async (t, s) => {
  const f = await fixture(s);
  const files = filesAs(s, f.patient.token);

  await t.step("a file over 10 MiB is refused with EntityTooLarge, as a form or as raw bytes", async () => {
    const big = pngBytes(10 * MIB + 1);
    for (const body of [new Blob([big], { type: "image/png" }), big]) {
      const path = newPath(f, "big.png");
      const signed = await files.createSignedUploadUrl(path);
      const res = await files.uploadToSignedUrl(path, signed.data!.token, body, { contentType: "image/png" });
      assertStorageError(res.error, "413", "The object exceeded the maximum allowed size");
      assertEquals((await files.exists(path)).data, false);
    }
  });

  await t.step("exactly 10 MiB is accepted", async () => {
    const path = newPath(f, "limit.png");
    const signed = await files.createSignedUploadUrl(path);
    const res = await files.uploadToSignedUrl(path, signed.data!.token, pngBytes(10 * MIB), {
      contentType: "image/png",
    });
    assertEquals(res.error, null);
    assertEquals((await files.info(path)).data!.size, 10 * MIB);
  });

  await t.step(
    "the wire: HTTP 400 and Supabase's JSON, also when the body's length is not declared",
    async () => {
      const path = newPath(f, "chunked.png");
      const signed = await files.createSignedUploadUrl(path);
      let left = 12;
      const chunks = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (left-- > 0) controller.enqueue(new Uint8Array(MIB));
          else controller.close();
        },
      }); // streamed, no Content-Length: the stand-in counts and stops at the limit
      const res = await rawJson(
        await fetch(signed.data!.signedUrl, {
          method: "PUT",
          headers: { "Content-Type": "image/png" },
          body: chunks,
        }),
      );
      assertEquals(res, {
        status: 400,
        body: {
          statusCode: "413",
          code: "EntityTooLarge",
          error: "Payload too large",
          message: "The object exceeded the maximum allowed size",
        },
      });
      assertEquals((await files.exists(path)).data, false);
    },
  );

  await t.step("a forbidden mime type is refused with InvalidMimeType", async () => {
    const path = newPath(f, "page.html");
    const signed = await files.createSignedUploadUrl(path);
    const asForm = await files.uploadToSignedUrl(
      path,
      signed.data!.token,
      new Blob(["<h1>x</h1>"], {
        type: "text/html",
      }),
    );
    assertStorageError(asForm.error, "415", "mime type text/html is not supported");
    const raw = await rawJson(
      await fetch(signed.data!.signedUrl, {
        method: "PUT",
        headers: { "Content-Type": "application/x-msdownload" },
        body: new Uint8Array([0x4d, 0x5a]),
      }),
    );
    assertEquals(raw, {
      status: 400,
      body: {
        statusCode: "415",
        code: "InvalidMimeType",
        error: "invalid_mime_type",
        message: "mime type application/x-msdownload is not supported",
      },
    });
    assertEquals((await files.exists(path)).data, false);
  });

  await t.step("the same upload with an allowed type succeeds", async () => {
    const path = newPath(f, "notes.txt");
    const signed = await files.createSignedUploadUrl(path);
    const res = await files.uploadToSignedUrl(
      path,
      signed.data!.token,
      new Blob(["notas"], { type: "text/plain" }),
    );
    assertEquals(res.error, null);
  });
});

testBothDrivers("storage (local stand-in): only the consultation's doctor and patient", async (t, s) => {
  const f = await fixture(s);
  const path = newPath(f, "result.pdf");
  const bytes = new TextEncoder().encode("%PDF-1.4 resultado");
  const own = filesAs(s, f.patient.token);
  const signed = await own.createSignedUploadUrl(path);
  assertEquals(signed.error, null);
  assertEquals(
    (await own.uploadToSignedUrl(path, signed.data!.token, bytes, { contentType: "application/pdf" })).error,
    null,
  );

  const outsiders: Array<[string, string | undefined]> = [
    ["another patient", f.otherPatient.token],
    ["a doctor without this consultation", f.otherDoctor.token],
    ["an admin", f.admin.token],
    ["the anon key alone", undefined],
  ];

  for (const [who, token] of outsiders) {
    await t.step(`${who}: no signed upload URL, no signed URL, no info, no download, no delete`, async () => {
      const files = filesAs(s, token);
      const upload = await files.createSignedUploadUrl(newPath(f));
      assertStorageError(upload.error, "403", "new row violates row-level security policy");
      assertEquals(upload.data, null);
      const direct = await files.upload(newPath(f), new Blob([bytes], { type: "application/pdf" }));
      assertStorageError(direct.error, "403", "new row violates row-level security policy");
      const url = await files.createSignedUrl(path, 60);
      assertStorageError(url.error, "404", "Object not found");
      assertEquals(url.data, null);
      const many = await files.createSignedUrls([path], 60);
      assertEquals(many.data?.[0].signedUrl, null);
      const info = await files.info(path);
      assertStorageError(info.error, "404", "Object not found");
      const download = await files.download(path);
      assert(download.error, "no download");
      const removed = await files.remove([path]);
      assertEquals(removed.data, []);
      const removeOne = await fetch(`${s.origin}/storage/v1/object/${BUCKET}/${path}`, {
        method: "DELETE",
        headers: { apikey: s.stack.anonKey, Authorization: `Bearer ${token ?? s.stack.anonKey}` },
      });
      assertEquals((await rawJson(removeOne)).body.statusCode, "403");
      assertEquals((await own.exists(path)).data, true, "the object is still there");
    });
  }

  await t.step("the rightful users: the same requests succeed", async () => {
    for (const token of [f.patient.token, f.doctor.token]) {
      const files = filesAs(s, token);
      assertEquals((await files.createSignedUploadUrl(newPath(f))).error, null);
      const direct = await files.upload(
        newPath(f, "direct.pdf"),
        new Blob([bytes], { type: "application/pdf" }),
      );
      assertEquals(direct.error, null);
      const url = await files.createSignedUrl(path, 60);
      assertEquals(url.error, null);
      assertEquals(new Uint8Array(await (await fetch(url.data!.signedUrl)).arrayBuffer()), bytes);
      assertEquals((await files.createSignedUrls([path], 60)).data?.[0].error, null);
      assertEquals((await files.info(path)).data!.size, bytes.length);
      assertEquals(new Uint8Array(await (await files.download(path)).data!.arrayBuffer()), bytes);
    }
  });

  await t.step("a signed-out token, though unexpired, reaches no file; a new sign-in does", async () => {
    const token = await login(s, f.patient.phone, PATIENT_PASSWORD);
    assertEquals((await filesAs(s, token).createSignedUrl(path, 60)).error, null);
    assertEquals((await call(s, "POST", "/v1/auth/logout", { token })).status, 200);

    const files = filesAs(s, token);
    const url = await files.createSignedUrl(path, 60);
    assertStorageError(url.error, "404", "Object not found");
    assertStorageError((await files.info(path)).error, "404", "Object not found");
    assert((await files.download(path)).error, "no download");
    const upload = await files.createSignedUploadUrl(newPath(f));
    assertStorageError(upload.error, "403", "new row violates row-level security policy");
    assertEquals((await files.remove([path])).data, []);
    assertEquals((await own.exists(path)).data, true, "the object is still there");

    const again = filesAs(s, await login(s, f.patient.phone, PATIENT_PASSWORD));
    assertEquals((await again.createSignedUrl(path, 60)).error, null);
    assertEquals((await again.createSignedUploadUrl(newPath(f))).error, null);
  });

  await t.step(
    "a signed URL works without a session, and only for its object and until it expires",
    async () => {
      const url = new URL((await own.createSignedUrl(path, 60)).data!.signedUrl);
      const token = url.searchParams.get("token")!;
      assertEquals((await fetch(url)).status, 200);

      const tampered = new URL(url);
      tampered.searchParams.set("token", token.slice(0, -3) + (token.endsWith("AAA") ? "BBB" : "AAA"));
      assertEquals(await rawJson(await fetch(tampered)), {
        status: 400,
        body: {
          statusCode: "400",
          code: "InvalidJWT",
          error: "InvalidJWT",
          message: "signature verification failed",
        },
      });

      const expired = new URL(url);
      expired.searchParams.set(
        "token",
        await forgeToken(s, { url: `${BUCKET}/${path}`, scope: "download" }, -60),
      );
      const expiredRes = await rawJson(await fetch(expired));
      assertEquals(expiredRes.status, 400);
      assertEquals(expiredRes.body.code, "InvalidJWT");
      assertEquals(expiredRes.body.message, '"exp" claim timestamp check failed');

      const expiredUpload = await own.uploadToSignedUrl(
        path,
        await forgeToken(s, { url: `${BUCKET}/${path}`, scope: "upload", upsert: true }, -60),
        bytes,
        { contentType: "application/pdf" },
      );
      assertStorageError(expiredUpload.error, "400", '"exp" claim timestamp check failed');

      const other = newPath(f, "other.pdf");
      const otherSigned = await own.createSignedUploadUrl(other);
      await own.uploadToSignedUrl(other, otherSigned.data!.token, bytes, { contentType: "application/pdf" });
      const wrongObject = new URL(url.toString().replace(path, other));
      assertEquals((await rawJson(await fetch(wrongObject))).body.message, "Invalid signature");

      // An upload token is not a download token, and the other way round.
      const uploadToken = (await own.createSignedUploadUrl(newPath(f))).data!.token;
      const asDownload = new URL(url);
      asDownload.searchParams.set("token", uploadToken);
      assertEquals((await rawJson(await fetch(asDownload))).body.message, "Token is not scoped for download");
      const asUpload = await own.uploadToSignedUrl(path, token, bytes, { contentType: "application/pdf" });
      assertStorageError(asUpload.error, "400", "Token is not scoped for upload");
    },
  );

  await t.step(
    "the doctor deletes the file: its row and its bytes go, its signed URLs stop working",
    async () => {
      const url = (await own.createSignedUrl(path, 60)).data!.signedUrl;
      const removed = await filesAs(s, f.doctor.token).remove([path]);
      assertEquals(removed.error, null);
      assertEquals(removed.data!.map((o) => o.name), [path]);
      assertEquals((await own.exists(path)).data, false);
      const gone = await rawJson(await fetch(url));
      assertEquals(gone.body, {
        statusCode: "404",
        code: "NoSuchKey",
        error: "not_found",
        message: "Object not found",
      });
      const folder = `${s.dataDir}/storage/${BUCKET}/${path}`;
      await assertRejects(() => Deno.stat(folder), "the file is gone from disk");
    },
  );
});

testBothDrivers("storage (local stand-in): bad input gets Supabase's errors, never a 500", async (t, s) => {
  const f = await fixture(s);
  const storage = `${s.origin}/storage/v1`;
  const auth = { apikey: s.stack.anonKey, Authorization: `Bearer ${f.patient.token}` };

  await t.step(
    "path traversal is refused (InvalidKey) and nothing is written outside the storage folder",
    async () => {
      for (
        const [key, reason] of [
          [`${f.consultationId}%2F..%2F..%2F..%2Fescape`, "contains dot path segment"],
          [`%2F${f.consultationId}%2Fescape`, "must be a relative path"],
          [`${f.consultationId}%2F..%5Cescape`, ""],
          [`${f.consultationId}%2Fesc%00ape`, ""],
        ]
      ) {
        const res = await rawJson(
          await fetch(`${storage}/object/upload/sign/${BUCKET}/${key}`, { method: "POST", headers: auth }),
        );
        assertEquals(res.status, 400, JSON.stringify(res.body));
        assertEquals(res.body.statusCode, "400");
        assertEquals(res.body.code, "InvalidKey");
        assert(res.body.message.startsWith("Invalid key: "), res.body.message);
        assert(res.body.message.endsWith(reason), res.body.message);
      }
      // Even with a token signed for it (the project's secret in an attacker's hands).
      const key = `${f.consultationId}/../../../escape`;
      const token = await forgeToken(s, { url: `${BUCKET}/${key}`, scope: "upload", upsert: false }, 60);
      const res = await rawJson(
        await fetch(`${storage}/object/upload/sign/${BUCKET}/${encodeURIComponent(key)}?token=${token}`, {
          method: "PUT",
          headers: { "Content-Type": "text/plain" },
          body: "pwned",
        }),
      );
      assertEquals(res.body.code, "InvalidKey");
      for (const escaped of [`${s.dataDir}/escape`, `${s.dataDir}/storage/escape`]) {
        await assertRejects(() => Deno.stat(escaped), `${escaped} must not exist`);
      }
    },
  );

  await t.step("no token, a bad token, a bad body, a bad bucket, an unknown route", async () => {
    const path = newPath(f);
    const cases: Array<[string, RequestInit, number, Record<string, string>]> = [
      [`/object/upload/sign/${BUCKET}/${path}`, { method: "POST" }, 400, {
        statusCode: "403",
        code: "AccessDenied",
        error: "Unauthorized",
      }],
      [
        `/object/upload/sign/${BUCKET}/${path}`,
        { method: "POST", headers: { Authorization: "Bearer nope" } },
        400,
        {
          statusCode: "403",
          code: "AccessDenied",
        },
      ],
      [`/object/upload/sign/${BUCKET}/${path}`, { method: "PUT", body: "x" }, 400, {
        statusCode: "400",
        code: "InvalidRequest",
        message: "querystring must have required property 'token'",
      }],
      [`/object/sign/${BUCKET}/${path}`, { method: "POST", headers: auth, body: "{" }, 400, {
        statusCode: "400",
        code: "InvalidRequest",
      }],
      [`/object/sign/${BUCKET}/${path}`, { method: "POST", headers: auth, body: '{"expiresIn":0}' }, 400, {
        statusCode: "400",
        message: "body/expiresIn must be >= 1",
      }],
      [`/object/sign/${BUCKET}/${path}`, { method: "POST", headers: auth, body: "{}" }, 400, {
        message: "body must have required property 'expiresIn'",
      }],
      [`/object/${BUCKET}`, { method: "DELETE", headers: auth, body: '{"prefixes":[]}' }, 400, {
        code: "InvalidRequest",
      }],
      [`/object/info/no%5Csuch/${path}`, { headers: auth }, 400, { code: "InvalidBucketName" }],
      [`/object/info/no-such-bucket/${path}`, { headers: auth }, 400, {
        statusCode: "404",
        code: "NoSuchBucket",
        message: "Bucket not found",
      }],
      [`/object/sign/${BUCKET}/${path}?token=abc`, {}, 400, {
        code: "InvalidJWT",
        message: "Invalid Compact JWS",
      }],
      [`/object/info/${BUCKET}/${path}`, {}, 400, { statusCode: "404", code: "NoSuchBucket" }],
      [`/object/public/${BUCKET}/${path}`, {}, 400, { statusCode: "404", code: "NoSuchBucket" }],
      ["/bucket/nope", { headers: auth }, 404, { statusCode: "404", error: "Not Found" }],
    ];
    for (const [route, init, status, expected] of cases) {
      const res = await rawJson(await fetch(`${storage}${route}`, init));
      assertEquals(res.status, status, `${route}: ${JSON.stringify(res.body)}`);
      for (const [key, value] of Object.entries(expected)) {
        assertEquals(res.body[key], value, `${route}: ${key} of ${JSON.stringify(res.body)}`);
      }
      for (const key of ["statusCode", "error", "message"]) {
        assert(typeof res.body[key] === "string", `${route}: ${key}`);
      }
    }
  });

  await t.step("logs name the operation and status, never a token or a path", () => {
    const lines = s.logs.filter((l) => l.includes('"service":"storage"'));
    assert(lines.length > 0);
    const text = lines.join("\n");
    assert(!text.includes(f.patient.token) && !text.includes(f.consultationId));
    assert(lines.every((l) => JSON.parse(l).level !== "error"), "no unexpected error (500) on bad input");
  });
});

testBothDrivers(
  "storage (local stand-in): the product's StorageAdapter, by URL and secret key",
  async (t, s) => {
    const f = await fixture(s);
    const storage = s.stack.deps.storage;
    const path = newPath(f, "adapter.pdf");
    const bytes = pngBytes(2048);

    await t.step("the functions are given the stack's URL and secret key (SUPABASE_SECRET_KEYS)", () => {
      assertEquals(s.stack.config.supabase, {
        url: s.origin,
        secretKey: s.stack.secretKey,
        secretKeys: [s.stack.secretKey],
      });
      assert(s.stack.secretKey.startsWith("sb_secret_"));
    });

    await t.step(
      "a signed upload URL a browser can PUT to, info, a signed download URL, remove",
      async () => {
        const { uploadUrl, token } = await storage.createSignedUploadUrl(BUCKET, path);
        assert(uploadUrl.startsWith(`${s.origin}/storage/v1/object/upload/sign/${BUCKET}/${path}?token=`));
        assert(token.length > 20);
        const put = await fetch(uploadUrl, {
          method: "PUT",
          headers: { "Content-Type": "application/pdf" },
          body: bytes,
        });
        assertEquals(await rawJson(put), { status: 200, body: { Key: `${BUCKET}/${path}` } });

        const info = await storage.objectInfo(BUCKET, path);
        assertEquals({ size: info?.size, mimeType: info?.mimeType }, {
          size: bytes.length,
          mimeType: "application/pdf",
        });
        assertMatch(info?.version ?? "", /^[0-9a-f-]{36}$/, "Storage's version of the object");
        assertEquals(await storage.objectInfo(BUCKET, newPath(f, "missing")), undefined);

        const downloadUrl = await storage.createSignedDownloadUrl(BUCKET, path, 120);
        assert(downloadUrl.startsWith(`${s.origin}/storage/v1/object/sign/${BUCKET}/${path}?token=`));
        const res = await fetch(downloadUrl);
        assertEquals(res.status, 200);
        assertEquals(new Uint8Array(await res.arrayBuffer()), bytes);

        await storage.remove(BUCKET, [path]);
        assertEquals(await storage.objectInfo(BUCKET, path), undefined);
      },
    );

    await t.step(
      "an upsert (service_role) replaces the bytes; the replaced version leaves the disk",
      async () => {
        const admin = createClient(s.origin, s.stack.serviceRoleKey, {
          auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
        }).storage.from(BUCKET);
        const replaced = newPath(f, "replaced.txt");
        for (const text of ["first", "second"]) {
          const signed = await admin.createSignedUploadUrl(replaced, { upsert: true });
          const res = await admin.uploadToSignedUrl(
            replaced,
            signed.data!.token,
            new Blob([text], { type: "text/plain" }),
          );
          assertEquals(res.error, null);
        }
        assertEquals(await (await admin.download(replaced)).data!.text(), "second");
        const versions = Array.from(Deno.readDirSync(`${s.dataDir}/storage/${BUCKET}/${replaced}`));
        assertEquals(versions.length, 1);
      },
    );

    await t.step("Storage's refusals come back as StorageAdapterError with Supabase's code", async () => {
      const error = await assertRejects(() => storage.createSignedDownloadUrl(BUCKET, newPath(f), 60));
      assert(error instanceof StorageAdapterError);
      assertEquals(error.code, "NoSuchKey");
    });

    await t.step("without SUPABASE_URL and a secret key, it says so when used", async () => {
      const unconfigured = createSupabaseStorageAdapter({});
      const error = await assertRejects(() => unconfigured.objectInfo(BUCKET, path));
      assert(error instanceof StorageAdapterError);
      assertMatch(error.message, /SUPABASE_URL and SUPABASE_SECRET_KEY \(or SUPABASE_SERVICE_ROLE_KEY\)/);
    });
  },
);
