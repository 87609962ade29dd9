import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DicomJson, Tag, tagToHex } from '#vna/dicom';
import { RunningArchive } from '../support/archive-process.js';
import { dcmtk } from '../support/dcmtk.js';
import { fixtureJson, writeFixture } from '../support/fixtures.js';

/** Several worker processes (VNA_WORKERS) on the same ports: what the archive runs on a multi-core machine. */
describe('the archive with two worker processes', () => {
  let archive: RunningArchive;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vna-cluster-'));
    archive = await RunningArchive.start({ label: 'cluster', env: { VNA_WORKERS: '2' } });
    // Ready means one worker answers; wait until both listen for DICOM (the second may start later).
    const deadline = Date.now() + 30_000;
    const listening = (): number => new Set([...archive.logs().matchAll(/"pid":(\d+)[^\n]*DICOM listening/g)].map((m) => m[1])).size;
    while (listening() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  });

  afterAll(async () => {
    await archive?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('takes associations on both workers, indexes everything once, and counts it in one /metrics', async () => {
    const base = fixtureJson('ct-ge-latin1');
    const files: string[] = [];
    for (let i = 0; i < 24; i++) {
      const json: DicomJson = structuredClone(base);
      json[tagToHex(Tag.SOPInstanceUID)] = { vr: 'UI', Value: [`${String(base[tagToHex(Tag.SOPInstanceUID)]?.Value?.[0])}.${i + 100}`] };
      files.push(writeFixture(work, `ct-${i}`, json));
    }
    const parts = [0, 1, 2, 3].map((k) => files.filter((_, i) => i % 4 === k));
    const results = await Promise.all(parts.map((list) => dcmtk('storescu', ['-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), ...list])));
    for (const r of results) expect(r.code).toBe(0);

    const res = await archive.fetch(`/dicomweb/studies/${String(base[tagToHex(Tag.StudyInstanceUID)]?.Value?.[0])}/instances`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as DicomJson[]).length).toBe(24);

    // Both workers served associations (their log lines carry their own pids) ...
    const pids = new Set([...archive.logs().matchAll(/"pid":(\d+)[^\n]*accepting unknown calling AE/g)].map((m) => m[1]));
    expect(pids.size).toBe(2);
    // ... and /metrics, whichever worker answers, adds both up.
    for (let i = 0; i < 4; i++) {
      const text = await (await fetch(`${archive.baseUrl}/metrics`)).text();
      const stored = [...text.matchAll(/^vna_instances_received_total\{[^}]*outcome="stored"[^}]*\} (\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
      expect(stored).toBe(24);
    }
  });
});
