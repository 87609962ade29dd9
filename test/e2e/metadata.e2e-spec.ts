import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { type DicomJson, Tag, tagToHex } from '#vna/dicom';
import { RunningArchive } from '../support/archive-process.js';
import { dcmtk } from '../support/dcmtk.js';
import { fixtureJson, writeFixture } from '../support/fixtures.js';

/** WADO-RS metadata is precomputed per series after the series changes (issue: fast study metadata). */
describe('series metadata documents', () => {
  let archive: RunningArchive;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vna-metadata-'));
    archive = await RunningArchive.start({ label: 'metadata' });
  });

  afterAll(async () => {
    await archive?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('are built without a request once a series stops changing, and follow a new instance', async () => {
    const base = fixtureJson('ct-ge-latin1');
    const send = async (n: number): Promise<void> => {
      const json: DicomJson = structuredClone(base);
      json[tagToHex(Tag.SOPInstanceUID)] = { vr: 'UI', Value: [`${String(base[tagToHex(Tag.SOPInstanceUID)]?.Value?.[0])}.${n}`] };
      json[tagToHex(Tag.InstanceNumber)] = { vr: 'IS', Value: [n] };
      const r = await dcmtk('storescu', ['-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), writeFixture(work, `ct-${n}`, json)]);
      expect(r.code).toBe(0);
    };
    const db = new pg.Client({ connectionString: archive.databaseUrl });
    await db.connect();
    try {
      const documents = async (): Promise<{ signature: string; document: string }[]> =>
        (await db.query<{ signature: string; document: string }>(`SELECT signature, document FROM series_metadata`)).rows;
      await send(1);
      await send(2);
      let rows: { signature: string; document: string }[] = [];
      for (let i = 0; i < 100 && rows.length === 0; i++) {
        await sleep(100);
        rows = await documents();
      }
      expect(rows).toHaveLength(1);
      expect(rows[0]!.signature).toMatch(/^2:/);
      expect(JSON.parse(`[${rows[0]!.document}]`)).toHaveLength(2);

      await send(3);
      for (let i = 0; i < 100 && !rows[0]!.signature.startsWith('3:'); i++) {
        await sleep(100);
        rows = await documents();
      }
      expect(rows[0]!.signature).toMatch(/^3:/);
      const study = String(base[tagToHex(Tag.StudyInstanceUID)]?.Value?.[0]);
      const res = await archive.fetch(`/dicomweb/studies/${study}/metadata`);
      expect(((await res.json()) as DicomJson[]).map((i) => i[tagToHex(Tag.InstanceNumber)]?.Value?.[0])).toEqual([1, 2, 3]);
    } finally {
      await db.end();
    }
  });
});
