import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetToJson, type DicomJson, lookupTransferSyntax, readPart10Prefix, readWholeDataset, Tag, tagToHex } from '#vna/dicom';
import { RunningArchive } from '../support/archive-process.js';
import { dcmtk, dcmtkDaemon } from '../support/dcmtk.js';
import { freePort } from '../support/test-env.js';
import { stow } from '../support/dicomweb.js';
import { datasetBytes, fixtureJson, multipartBodies, part10, uidOf, writeFixture } from '../support/fixtures.js';

const CHARSET_FIXTURES = ['sc-japanese-iso2022', 'sc-korean-iso2022', 'sc-chinese-gb18030', 'ct-ge-latin1', 'sc-cyrillic', 'sc-greek', 'mr-siemens-utf8'];
/** Text no single legacy character set holds (Latin, Greek, Japanese): an overlay carrying it needs UTF-8. */
const MIXED = 'Zentrum Süd Ωμέγα 山田';
const CHARSET_VRS = new Set(['SH', 'LO', 'ST', 'LT', 'UT', 'UC', 'PN']);

function parse(file: Buffer): { json: DicomJson; charset: readonly string[] | undefined } {
  const prefix = readPart10Prefix(file, true)!;
  const ds = readWholeDataset(file.subarray(prefix.datasetOffset), lookupTransferSyntax(prefix.transferSyntaxUid)!);
  return { json: datasetToJson(ds), charset: ds.specificCharacterSet() };
}

const first = (json: DicomJson | undefined, tag: number): unknown => json?.[tagToHex(tag)]?.Value?.[0];

/**
 * Multi-vendor normalization end to end: coercion rules managed over /api/v1, objects in seven
 * character sets and a legacy multi-vendor object through storescu, QIDO-RS (UTF-8), C-FIND (the
 * character set declared), WADO-RS with an overlay (Specific Character Set consistent with the
 * bytes, private tags and pixel data byte for byte) and "as received" (the original bytes).
 */
describe('normalization', () => {
  let archive: RunningArchive;
  let work: string;
  const sent = new Map<string, Buffer>();
  let ruleId: string;
  let scpPort: number;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vna-normalization-'));
    scpPort = await freePort();
    archive = await RunningArchive.start({
      label: 'normalization',
      env: { VNA_COERCION_SOURCE_ISSUERS: 'LEGACYSCU=LEGACY-HOSP', VNA_DICOM_NODES: `OLDPACS@127.0.0.1:${scpPort}`, VNA_EGRESS_CHARSETS: 'OLDPACS=ISO_IR 100' },
    });
  }, 120_000);

  afterAll(async () => {
    await archive?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown, key: 'admin' | 'writer' | 'reader' = 'admin', method = 'POST') =>
    archive.fetch(path, { method, key, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

  it('manages rules over /api/v1: admins write, a broken rule is refused with problem+json, every change is a version', async () => {
    const rule = { name: 'charset sender institution', phase: 'ingest', conditions: [{ context: 'aet', equals: 'CHARSETSCU' }], actions: [{ op: 'set', attribute: 'InstitutionName', value: 'placeholder' }] };
    expect((await post('/api/v1/coercion-rules', { rule }, 'writer')).status).toBe(403);
    const broken = await post('/api/v1/coercion-rules', { rule: { ...rule, actions: [{ op: 'replace', attribute: 'InstitutionNmae', pattern: '(', replacement: '' }] } });
    expect(broken.status).toBe(400);
    expect(broken.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(((await broken.json()) as { detail: string }).detail).toMatch(/actions\[0\]\.attribute: unknown attribute "InstitutionNmae"/);
    const badRegex = await post('/api/v1/coercion-rules', { rule: { ...rule, actions: [{ op: 'replace', attribute: 'InstitutionName', pattern: '(', replacement: '' }] } });
    expect(((await badRegex.json()) as { detail: string }).detail).toMatch(/actions\[0\]\.pattern: invalid regular expression/);

    const created = await post('/api/v1/coercion-rules', { rule, reason: 'e2e' });
    expect(created.status).toBe(201);
    ruleId = ((await created.json()) as { id: string }).id;
    const updated = await post(`/api/v1/coercion-rules/${ruleId}`, { rule: { ...rule, actions: [{ op: 'set', attribute: 'InstitutionName', value: MIXED }] }, expectedVersion: 1 }, 'admin', 'PUT');
    expect(updated.status).toBe(200);
    expect(((await updated.json()) as { version: number }).version).toBe(2);
    expect((await post(`/api/v1/coercion-rules/${ruleId}`, { rule, expectedVersion: 1 }, 'admin', 'PUT')).status).toBe(409);
    const versions = (await (await archive.fetch(`/api/v1/coercion-rules/${ruleId}/versions`, { key: 'reader' })).json()) as { version: number; actor: string }[];
    expect(versions.map((v) => [v.version, v.actor])).toEqual([[1, 'admin'], [2, 'admin']]);
    const list = (await (await archive.fetch('/api/v1/coercion-rules', { key: 'reader' })).json()) as { name: string }[];
    expect(list.map((r) => r.name)).toEqual(expect.arrayContaining(['builtin: manufacturer spellings', 'charset sender institution']));
  });

  it('takes objects in seven character sets and a legacy multi-vendor object over C-STORE', async () => {
    for (const name of CHARSET_FIXTURES) {
      const path = writeFixture(work, name);
      sent.set(name, readFileSync(path));
      expect((await dcmtk('storescu', ['-aet', 'CHARSETSCU', '-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), path])).code).toBe(0);
    }
    const legacy = writeFixture(work, 'ct-legacy-multivendor');
    sent.set('ct-legacy-multivendor', readFileSync(legacy));
    expect((await dcmtk('storescu', ['-aet', 'LEGACYSCU', '-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), legacy])).code).toBe(0);
  });

  it('answers QIDO-RS in UTF-8 with the coerced values', async () => {
    for (const name of CHARSET_FIXTURES) {
      const json = fixtureJson(name);
      const res = await archive.fetch(`/dicomweb/series?StudyInstanceUID=${uidOf(json, Tag.StudyInstanceUID)}&includefield=00080080&includefield=00100010`);
      expect(res.headers.get('content-type')).toMatch(/application\/dicom\+json/);
      const [row] = (await res.json()) as DicomJson[];
      expect([name, first(row, 0x00080080)]).toEqual([name, MIXED]);
      expect([name, first(row, Tag.PatientName)]).toEqual([name, first(json, Tag.PatientName)]);
    }
  });

  it('answers C-FIND with the character set declared and the names as received', async () => {
    for (const name of CHARSET_FIXTURES) {
      const json = fixtureJson(name);
      const out = join(work, `find-${name}`);
      mkdirSync(out, { recursive: true });
      const r = await dcmtk('findscu', [
        '-aec', 'VNA', '-S', '-X', '-od', out, '127.0.0.1', String(archive.dicomPort),
        '-k', 'SpecificCharacterSet=ISO_IR 192', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${uidOf(json, Tag.StudyInstanceUID)}`, '-k', 'PatientName', '-k', 'PatientID',
      ]);
      expect(r.code).toBe(0);
      const files = readdirSync(out);
      expect([name, files.length]).toEqual([name, 1]);
      const response = parse(readFileSync(join(out, files[0]!)));
      // The declared character set decodes the bytes to the received name (datasetToJson reads them with it).
      expect([name, response.charset?.length ? 'declared' : 'none']).toEqual([name, 'declared']);
      expect([name, first(response.json, Tag.PatientName)]).toEqual([name, first(json, Tag.PatientName)]);
    }
  });

  it('retrieves with the overlay in a consistent character set, private tags and pixel data byte for byte; as received returns the original bytes', async () => {
    for (const name of CHARSET_FIXTURES) {
      const json = fixtureJson(name);
      const path = `studies/${uidOf(json, Tag.StudyInstanceUID)}/series/${uidOf(json, Tag.SeriesInstanceUID)}/instances/${uidOf(json, Tag.SOPInstanceUID)}`;
      const res = await archive.fetch(`/dicomweb/${path}`);
      expect(res.status).toBe(200);
      const [part] = multipartBodies(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
      const out = parse(part!.body);
      const original = parse(sent.get(name)!);
      expect([name, first(out.json, 0x00080080)]).toEqual([name, MIXED]);
      // GB18030 and UTF-8 hold the mixed text, so the header stays in them; every other header moved
      // to UTF-8. Either way the declared set decodes every text to what was received.
      expect([name, out.charset]).toEqual([name, name === 'sc-chinese-gb18030' ? ['GB18030'] : ['ISO_IR 192']]);
      for (const [key, attr] of Object.entries(original.json)) {
        if (key === '00080080') continue;
        expect([name, key, out.json[key]]).toEqual([name, key, attr]);
      }
      // Private elements and pixel data are the received bytes.
      const dataset = datasetBytes(part!.body);
      const originalDataset = datasetBytes(sent.get(name)!);
      for (const key of Object.keys(original.json).filter((k) => parseInt(k.slice(0, 4), 16) % 2 === 1 && !CHARSET_VRS.has(original.json[k]!.vr))) {
        expect([name, key, out.json[key]]).toEqual([name, key, original.json[key]]);
      }
      const pixels = original.json['7FE00010'];
      if (pixels) expect(dataset.subarray(-64).equals(originalDataset.subarray(-64))).toBe(true);

      expect((await archive.fetch(`/api/v1/as-received/${path}`, { key: 'reader' })).status).toBe(403);
      const raw = await archive.fetch(`/api/v1/as-received/${path}`);
      expect(raw.status).toBe(200);
      const [rawPart] = multipartBodies(Buffer.from(await raw.arrayBuffer()), raw.headers.get('content-type')!);
      expect([name, datasetBytes(rawPart!.body).equals(originalDataset)]).toEqual([name, true]);
    }
  });

  it('normalizes the legacy object for search and reports what it could not, the original kept', async () => {
    const json = fixtureJson('ct-legacy-multivendor');
    const study = uidOf(json, Tag.StudyInstanceUID);
    const find = async (q: string) => (await archive.fetch(`/dicomweb/studies?${q}&includefield=00100021&includefield=00100030`)).json() as Promise<DicomJson[]>;
    const [row] = await find(`StudyInstanceUID=${study}`);
    expect(first(row, Tag.StudyDate)).toBe('19930430');
    expect(first(row, Tag.StudyTime)).toBe('140509');
    expect(first(row, Tag.PatientBirthDate)).toBe('19510302');
    expect(first(row, Tag.PatientName)).toEqual({ Alphabetic: 'Svensson^Åsa Maria' });
    expect(first(row, Tag.IssuerOfPatientID)).toBe('LEGACY-HOSP');
    expect((await find('PatientID=OLD-4711')).map((r) => first(r, Tag.StudyInstanceUID))).toEqual([study]);
    // C-FIND by the other patient ID finds the study too.
    const findDir = join(work, 'find-other-id');
    mkdirSync(findDir, { recursive: true });
    const found = await dcmtk('findscu', ['-aec', 'VNA', '-S', '-X', '-od', findDir, '127.0.0.1', String(archive.dicomPort), '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientID=OLD-4711', '-k', 'StudyInstanceUID']);
    expect(found.code).toBe(0);
    expect(readdirSync(findDir).map((f) => first(parse(readFileSync(join(findDir, f))).json, Tag.StudyInstanceUID))).toEqual([study]);
    expect((await find('StudyDate=19930430')).map((r) => first(r, Tag.StudyInstanceUID))).toEqual([study]);
    const series = (await (await archive.fetch(`/dicomweb/series?Manufacturer=${encodeURIComponent('GE Healthcare')}`)).json()) as DicomJson[];
    expect(series.map((s) => first(s, Tag.StudyInstanceUID))).toEqual(expect.arrayContaining([study, uidOf(fixtureJson('ct-ge-latin1'), Tag.StudyInstanceUID)]));

    const record = (await (await archive.fetch(`/api/v1/instances/${uidOf(json, Tag.SOPInstanceUID)}/coercion`, { key: 'reader' })).json()) as { rules: string[]; received: DicomJson; warnings: string[] };
    expect(record.warnings).toEqual(expect.arrayContaining(['invalid UID in 00200052', 'invalid IS value in 00200011']));
    const metrics = await (await fetch(`${archive.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^vna_coercion_objects_total\{phase="ingest",outcome="changed"\} [1-9]/m);
    expect(metrics).toMatch(/^vna_coercion_rule_applied_total\{rule="\d+"\} [1-9]/m);
    expect(record.rules.length).toBeGreaterThanOrEqual(3);
    expect(record.received['00080020']).toEqual({ vr: 'DA', Value: ['1993.04.30'] });
    // Retrieved objects carry the normalized dates and name, the Manufacturer as sent (folded for search only).
    const res = await archive.fetch(`/dicomweb/studies/${study}`);
    const [part] = multipartBodies(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    const out = parse(part!.body);
    expect(first(out.json, Tag.StudyDate)).toBe('19930430');
    expect(first(out.json, Tag.Manufacturer)).toBe('G.E. Medical Systems');
    expect(out.charset).toEqual(['ISO_IR 100']);
    expect(first(out.json, Tag.PatientName)).toEqual({ Alphabetic: 'Svensson^Åsa Maria' });
  });

  it('applies rules per import batch named on STOW-RS, and refuses a bad batch name', async () => {
    const rule = { name: 'batch 2019', phase: 'ingest', conditions: [{ context: 'batch', equals: 'MIGRATION-2019' }], actions: [{ op: 'set', attribute: 'InstitutionName', value: 'Old Site' }] };
    expect((await post('/api/v1/coercion-rules', { rule })).status).toBe(201);
    const json = fixtureJson('us-philips-8bit');
    const bad = await stow(archive, [part10(json)], { headers: { 'X-VNA-Import-Batch': '' } });
    expect(bad.status).toBe(400);
    const stored = await stow(archive, [part10(json)], { headers: { 'X-VNA-Import-Batch': 'MIGRATION-2019' } });
    expect(stored.status).toBe(200);
    const [row] = (await (await archive.fetch(`/dicomweb/series?StudyInstanceUID=${uidOf(json, Tag.StudyInstanceUID)}&includefield=00080080`)).json()) as DicomJson[];
    expect(first(row, 0x00080080)).toBe('Old Site');
  });

  it('moves studies to a destination with its own egress rule and character set (C-MOVE into storescp)', async () => {
    const rule = { name: 'to OLDPACS', phase: 'egress', conditions: [{ context: 'aet', equals: 'OLDPACS' }], actions: [{ op: 'set', attribute: 'StudyDescription', value: 'Überweisung' }, { op: 'remove', attribute: 'InstitutionName' }] };
    expect((await post('/api/v1/coercion-rules', { rule })).status).toBe(201);
    const received = join(work, 'moved');
    mkdirSync(received, { recursive: true });
    const scp = dcmtkDaemon('storescp', ['-aet', 'OLDPACS', '+xa', '-od', received, String(scpPort)]);
    try {
      await new Promise((r) => setTimeout(r, 300));
      for (const name of ['ct-legacy-multivendor', 'mr-siemens-utf8']) {
        const study = uidOf(fixtureJson(name), Tag.StudyInstanceUID);
        const r = await dcmtk('movescu', ['-S', '-aec', 'VNA', '-aem', 'OLDPACS', '127.0.0.1', String(archive.dicomPort), '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`]);
        expect({ name, code: r.code, errors: r.stderr }).toEqual({ name, code: 0, errors: '' });
      }
      const byName = new Map(readdirSync(received).map((f) => {
        const file = readFileSync(join(received, f));
        const parsed = parse(file);
        return [String(first(parsed.json, Tag.PatientID)), { ...parsed, file }] as const;
      }));
      // Latin-1 holds everything of the legacy object: written in ISO_IR 100, as OLDPACS accepts.
      const legacy = byName.get('PID-LEG-20')!;
      expect(legacy.charset).toEqual(['ISO_IR 100']);
      expect(first(legacy.json, Tag.StudyDescription)).toBe('Überweisung');
      expect(legacy.json['00080080']).toBeUndefined();
      expect(first(legacy.json, Tag.StudyDate)).toBe('19930430');
      expect(first(legacy.json, Tag.PatientName)).toEqual({ Alphabetic: 'Svensson^Åsa Maria' });
      expect(datasetBytes(legacy.file).subarray(-64).equals(datasetBytes(sent.get('ct-legacy-multivendor')!).subarray(-64))).toBe(true);
      // A Greek name does not fit Latin-1: UTF-8, still consistent with the bytes.
      const greek = byName.get('PID-SIE-2')!;
      expect(greek.charset).toEqual(['ISO_IR 192']);
      expect(first(greek.json, Tag.PatientName)).toEqual({ Alphabetic: 'Ωμέγα^Ζωή' });
      expect(first(greek.json, Tag.StudyDescription)).toBe('Überweisung');
      expect(greek.json['00080080']).toBeUndefined();
    } finally {
      await scp.stop();
    }
  });

  it("keeps a DICOM node's character set over /api/v1/dicom-nodes, refusing one that is not a Specific Character Set", async () => {
    const bad = await post('/api/v1/dicom-nodes', { aet: 'LATINPACS', host: '127.0.0.1', port: 104, charset: 'LATIN-1' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/not a Specific Character Set value/);
    const created = await post('/api/v1/dicom-nodes', { aet: 'LATINPACS', host: '127.0.0.1', port: 104, charset: 'ISO_IR 100' });
    expect(created.status).toBe(201);
    expect(((await created.json()) as { charset: string[] }).charset).toEqual(['ISO_IR 100']);
    expect((await post('/api/v1/dicom-nodes/LATINPACS/charset', { charset: '\\ISO 2022 IR 87' }, 'writer', 'PUT')).status).toBe(403);
    const changed = await post('/api/v1/dicom-nodes/LATINPACS/charset', { charset: '\\ISO 2022 IR 87' }, 'admin', 'PUT');
    expect(((await changed.json()) as { charset: string[] }).charset).toEqual(['', 'ISO 2022 IR 87']);
    expect((await post('/api/v1/dicom-nodes/NOSUCH/charset', { charset: 'ISO_IR 100' }, 'admin', 'PUT')).status).toBe(404);
  });

  it('dry-runs a Part 10 upload or DICOM JSON with a rule being tried, storing nothing', async () => {
    const before = (await (await archive.fetch('/dicomweb/studies')).json()) as DicomJson[];
    const upload = await archive.fetch('/api/v1/coercion-rules/dry-run?aet=LEGACYSCU', {
      method: 'POST',
      headers: { 'Content-Type': 'application/dicom' },
      body: new Uint8Array(sent.get('ct-legacy-multivendor')!),
    });
    expect(upload.status).toBe(200);
    const r = (await upload.json()) as { before: DicomJson; after: DicomJson; applied: { name: string }[]; warnings: string[] };
    expect(first(r.before, Tag.StudyDate)).toBe('1993.04.30');
    expect(first(r.after, Tag.StudyDate)).toBe('19930430');
    expect(first(r.after, Tag.IssuerOfPatientID)).toBe('LEGACY-HOSP');
    expect(r.warnings).toEqual(expect.arrayContaining(['invalid UID in 00200052']));
    const tried = await post('/api/v1/coercion-rules/dry-run', {
      object: { '00100020': { vr: 'LO', Value: ['123'] } },
      rule: { name: 'try', phase: 'ingest', actions: [{ op: 'prefix', attribute: 'PatientID', prefix: 'X-' }] },
    });
    expect(first(((await tried.json()) as { after: DicomJson }).after, Tag.PatientID)).toBe('X-123');
    const broken = await post('/api/v1/coercion-rules/dry-run', { object: {}, rule: { name: 'x', phase: 'ingest', actions: [{ op: 'case', attribute: 'PatientID', to: 'title' }] } });
    expect(broken.status).toBe(400);
    expect((await post('/api/v1/coercion-rules/dry-run', { object: { nope: 1 } })).status).toBe(400);
    const notDicom = await archive.fetch('/api/v1/coercion-rules/dry-run', { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: 'hello' });
    expect(notDicom.status).toBe(400);
    expect((await (await archive.fetch('/dicomweb/studies')).json()) as DicomJson[]).toHaveLength(before.length);
    // Deleting the rule stops it; its versions stay.
    expect((await archive.fetch(`/api/v1/coercion-rules/${ruleId}?reason=done`, { method: 'DELETE' })).status).toBe(200);
    const versions = (await (await archive.fetch(`/api/v1/coercion-rules/${ruleId}/versions`)).json()) as { change: string }[];
    expect(versions.map((v) => v.change)).toEqual(['created', 'updated', 'deleted']);
  });
});

/** Several worker processes: a rule saved through one applies in the others at once (no waiting for the refresh). */
describe('normalization with several workers', () => {
  let archive: RunningArchive;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vna-normalization-cluster-'));
    archive = await RunningArchive.start({ label: 'normalization-cluster', env: { VNA_WORKERS: '2', VNA_COERCION_REFRESH_SECONDS: '3600' } });
    // Ready means one worker answers: wait until both listen (a later one would load the rule at its start).
    const deadline = Date.now() + 30_000;
    const listening = (): number => new Set([...archive.logs().matchAll(/"pid":(\d+)[^\n]*DICOM listening/g)].map((m) => m[1])).size;
    while (listening() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }, 120_000);

  afterAll(async () => {
    await archive?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('applies a new rule in every worker', async () => {
    const rule = { name: 'cluster institution', phase: 'ingest', actions: [{ op: 'set', attribute: 'InstitutionName', value: 'Cluster Site' }] };
    const res = await archive.fetch('/api/v1/coercion-rules', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ rule }) });
    expect(res.status).toBe(201);
    await new Promise((r) => setTimeout(r, 300));
    const base = fixtureJson('ct-ge-latin1');
    const studies: string[] = [];
    // One association (one connection, one worker) per object: the connections spread over the workers.
    for (let i = 1; i <= 6; i++) {
      const study = `1.2.826.0.1.3680043.10.1434.30.${i}`;
      studies.push(study);
      const json: DicomJson = { ...base, '0020000D': { vr: 'UI', Value: [study] }, '0020000E': { vr: 'UI', Value: [`${study}.1`] }, '00080018': { vr: 'UI', Value: [`${study}.1.1`] } };
      const path = writeFixture(work, `cluster-${i}`, json);
      expect((await dcmtk('storescu', ['-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), path])).code).toBe(0);
    }
    // Both workers took associations.
    expect(new Set([...archive.logs().matchAll(/"pid":(\d+)[^\n]*accepting unknown calling AE/g)].map((m) => m[1])).size).toBe(2);
    for (const study of studies) {
      const [row] = (await (await archive.fetch(`/dicomweb/series?StudyInstanceUID=${study}&includefield=00080080`)).json()) as DicomJson[];
      expect([study, first(row, 0x00080080)]).toEqual([study, 'Cluster Site']);
    }
  });
});
