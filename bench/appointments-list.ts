/**
 * The doctor's appointment list through the real stack, one secured server
 * per table size: GET /v1/appointments?limit=50 (the first page) and the
 * page from the start of the doctor's middle appointment (`from`), every
 * size and page in the same alternating rounds.
 */
import { alternateCalls, createTarget, fetchJson, type Target, timedRequest } from "./lib/load.ts";
import type { ListResult } from "./lib/report.ts";
import { summarize } from "./lib/stats.ts";
import type { SecuredServer } from "./secured-get.ts";

export interface ListSize {
  server: SecuredServer;
  token: string;
  doctorId: string;
  rows: number;
  loadMs: number;
  middleStart: string;
}

export interface ListSettings {
  requests: number;
  warmup: number;
}

/** The page's items, after checking that they are the doctor's, with their patients' names. */
async function checkPage(target: Target, doctorId: string): Promise<number> {
  const body = await fetchJson(target);
  const items = body.data as Array<{ doctor: { id: string }; patient: { name: string } }>;
  if (body.success !== true || !Array.isArray(items) || items.length === 0) {
    throw new Error(`${target.name} answered something else: ${JSON.stringify(body).slice(0, 500)}`);
  }
  const stranger = items.find((a) => a.doctor.id !== doctorId || a.patient.name === "");
  if (stranger) throw new Error(`${target.name}: unexpected item ${JSON.stringify(stranger)}`);
  return items.length;
}

export async function measureAppointmentLists(
  sizes: ListSize[],
  settings: ListSettings,
): Promise<ListResult[]> {
  const pages = sizes.map((size) => {
    const headers = { Authorization: `Bearer ${size.token}` };
    const list = size.server.api("/v1/appointments?limit=50");
    const middle = `${list}&from=${encodeURIComponent(size.middleStart)}`;
    return {
      size,
      first: createTarget(`first page at ${size.rows}`, list, headers),
      middle: createTarget(`middle page at ${size.rows}`, middle, headers),
    };
  });
  const targets = pages.flatMap((page) => [page.first, page.middle]);
  try {
    const items: ListResult["items"][] = [];
    for (const { size, first, middle } of pages) {
      items.push({
        firstPage: await checkPage(first, size.doctorId),
        middlePage: await checkPage(middle, size.doctorId),
      });
    }
    const latencies = await alternateCalls(targets.map((target) => () => timedRequest(target)), {
      count: settings.requests,
      warmup: settings.warmup,
    });
    return sizes.map((size, i) => ({
      rows: size.rows,
      loadMs: size.loadMs,
      firstPage: summarize(latencies[2 * i]),
      middlePage: summarize(latencies[2 * i + 1]),
      middleFrom: size.middleStart,
      items: items[i],
    }));
  } finally {
    for (const target of targets) target.close();
  }
}
