/**
 * The FHIR figures of `npm run bench` (issue 5, "Benchmark"): publish latency (the last instance
 * acknowledged to the ImagingStudy readable in the EHR, the stability window subtracted) against a
 * real FHIR server (medplum's router, in this process), and the archive's FHIR search latency.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls the EHR as an EHR client would (a search by the study's identifier) until the study is there; ms from `since`. */
export async function readableAfter(ehrBaseUrl: string, studyUid: string, since: number, timeoutMs = 60_000): Promise<number> {
  const url = `${ehrBaseUrl}/ImagingStudy?identifier=${encodeURIComponent(`urn:dicom:uid|urn:oid:${studyUid}`)}`;
  for (;;) {
    const res = await fetch(url, { headers: { accept: 'application/fhir+json' } });
    const bundle = (await res.json()) as { entry?: unknown[] };
    if ((bundle.entry?.length ?? 0) > 0) return performance.now() - since;
    if (performance.now() - since > timeoutMs) throw new Error(`study ${studyUid} not in the EHR after ${timeoutMs} ms`);
    await sleep(5);
  }
}

/**
 * Latencies (ms) of `reps` sequential GETs of a FHIR search, each answer checked to be a 200 Bundle,
 * after one untimed warm-up GET of the same search: the steady state an EHR sees after its first
 * query (the first pays one-off costs: a pool connection opened, first plans, lazily loaded code).
 */
export async function searchLatencies(url: string, apiKey: string, reps: number): Promise<{ ms: number[]; total: number }> {
  const ms: number[] = [];
  let total = 0;
  for (let i = -1; i < reps; i++) {
    const t0 = performance.now();
    const res = await fetch(url, { headers: { accept: 'application/fhir+json', authorization: `Bearer ${apiKey}` } });
    const body = (await res.json()) as { resourceType?: string; total?: number };
    if (i >= 0) ms.push(performance.now() - t0);
    if (res.status !== 200 || body.resourceType !== 'Bundle') throw new Error(`${url}: HTTP ${res.status}`);
    total = body.total ?? 0;
  }
  return { ms, total };
}
