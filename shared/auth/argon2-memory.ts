/**
 * hash-wasm gives every hash a WebAssembly memory of its own (19 MiB), freed
 * only by a garbage collection, and V8 does not count it towards the heap's
 * budget: a process that hashed often but allocated little else grew past
 * 1 GiB. A collection after hashing gives the memories back. Where the
 * runtime offers no way to ask for one (Supabase's Edge Runtime has no
 * node:vm), this does nothing and hashing one at a time is the bound.
 */
type Collect = (kind: "minor" | "major") => void;

let collector: Promise<Collect> | undefined;

function loadCollector(): Promise<Collect> {
  return (async () => {
    try {
      const [{ default: v8 }, { default: vm }] = await Promise.all([import("node:v8"), import("node:vm")]);
      v8.setFlagsFromString("--expose-gc");
      const gc = vm.runInNewContext("gc") as (options: { type: "minor" | "major" }) => void;
      return (kind: "minor" | "major") => gc({ type: kind });
    } catch {
      return () => {};
    }
  })();
}

export async function releaseWasmMemory(kind: "minor" | "major"): Promise<void> {
  collector ??= loadCollector();
  (await collector)(kind);
}
