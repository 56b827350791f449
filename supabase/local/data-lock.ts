/**
 * One `task start` per data folder. Two stacks on one PGlite folder each
 * believe they own it, and a write acknowledged by one is lost when the
 * other writes its own state back. An OS lock (flock) on `<dir>/.lock`,
 * held while the process lives: the kernel releases it when the process
 * dies, however it dies, so a crash leaves nothing to clean up.
 */
export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
}

/** Takes the folder's lock, or throws DataDirLockedError naming the holder. Keep the file open: closing it unlocks. */
export async function lockDataDir(dataDir: string): Promise<Deno.FsFile> {
  await Deno.mkdir(dataDir, { recursive: true });
  const path = `${dataDir}/.lock`;
  const file = await Deno.open(path, { read: true, write: true, create: true });
  if (!(await file.tryLock(true))) {
    const holder = (await Deno.readTextFile(path).catch(() => "")).trim();
    file.close();
    throw new DataDirLockedError(
      `Another \`task start\` is using ${dataDir}${holder ? ` (process ${holder})` : ""}. ` +
        "Stop it first, or give this one another folder with CONSULTORIO_LOCAL_DIR.",
    );
  }
  // The holder's PID, for the message above (informative only: the lock is what decides).
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  return file;
}
