/**
 * Object bytes on local disk, laid out like Supabase Storage's file backend
 * (src/storage/backend/file.ts): `<root>/<bucket>/<key>/<version>`. Every
 * upload writes a new version file, so a download in progress never sees a
 * half-written replacement; the row in storage.objects names the version.
 */
import { createHash } from "node:crypto";
import { dirname } from "node:path";
import { ERRORS } from "./errors.ts";
import { bucketFolder, objectFolder } from "./keys.ts";

export interface WrittenFile {
  size: number;
  /** `"<md5>"`, like the S3 backend's ETag. */
  eTag: string;
  lastModified: Date;
}

export interface OpenedFile {
  file: Deno.FsFile;
  size: number;
}

const VERSION = /^[0-9a-f-]{36}$/i;

export function createFileStore(root: string) {
  const pathOf = (bucket: string, key: string, version: string) => {
    if (!VERSION.test(version)) throw ERRORS.invalidKey(key, "has an invalid version");
    return `${objectFolder(root, bucket, key)}/${version}`;
  };

  async function remove(bucket: string, key: string, version: string): Promise<void> {
    const path = pathOf(bucket, key, version);
    try {
      await Deno.remove(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    // Empty folders left behind go too, up to the bucket's folder.
    const top = `${bucketFolder(root, bucket)}/`;
    for (let dir = dirname(path); dir.startsWith(top); dir = dirname(dir)) {
      try {
        await Deno.remove(dir);
      } catch {
        break;
      }
    }
  }

  return {
    /**
     * Streams `body` into a new version file; EntityTooLarge (and nothing
     * left on disk) once it passes `limit` bytes.
     */
    async write(
      bucket: string,
      key: string,
      version: string,
      body: ReadableStream<Uint8Array> | null,
      limit: number,
    ): Promise<WrittenFile> {
      const path = pathOf(bucket, key, version);
      await Deno.mkdir(dirname(path), { recursive: true });
      const file = await Deno.open(path, { write: true, createNew: true });
      const md5 = createHash("md5");
      let size = 0;
      try {
        if (body) {
          for await (const chunk of body) {
            size += chunk.byteLength;
            if (size > limit) throw ERRORS.entityTooLarge();
            md5.update(chunk);
            for (let written = 0; written < chunk.byteLength;) {
              written += await file.write(chunk.subarray(written));
            }
          }
        }
        file.close();
      } catch (error) {
        try {
          file.close();
        } catch { /* already closed */ }
        await remove(bucket, key, version).catch(() => {});
        throw error;
      }
      return { size, eTag: `"${md5.digest("hex")}"`, lastModified: new Date() };
    },

    /** The version's bytes, or undefined when the file is gone. */
    async open(bucket: string, key: string, version: string): Promise<OpenedFile | undefined> {
      try {
        const file = await Deno.open(pathOf(bucket, key, version), { read: true });
        return { file, size: (await file.stat()).size };
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return undefined;
        throw error;
      }
    },

    /** A new version file with the bytes of another (a move or copy); NoSuchKey when the source is gone. */
    async copy(
      from: { bucket: string; key: string; version: string },
      to: { bucket: string; key: string; version: string },
    ): Promise<{ lastModified: Date }> {
      const target = pathOf(to.bucket, to.key, to.version);
      await Deno.mkdir(dirname(target), { recursive: true });
      try {
        await Deno.copyFile(pathOf(from.bucket, from.key, from.version), target);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) throw ERRORS.noSuchKey();
        throw error;
      }
      return { lastModified: new Date() };
    },

    remove,
  };
}

export type FileStore = ReturnType<typeof createFileStore>;
