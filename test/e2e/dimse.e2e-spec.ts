import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { type DicomJson, readPart10Prefix, readWholeDataset, Tag, tagToHex, datasetToJson, lookupTransferSyntax } from '#vna/dicom';
import { RunningArchive } from '../support/archive-process.js';
import { dcmtk, dcmtkDaemon } from '../support/dcmtk.js';
import { datasetBytes, fixtureJson, multipartBodies, sha256, transcode, uidOf, writeFixture, writeImplicit } from '../support/fixtures.js';
import { freePort } from '../support/test-env.js';

/** A copy of a fixture under new instance and series UIDs, so encodings of one object can coexist. */
function variant(name: string, suffix: number): DicomJson {
  const json = structuredClone(fixtureJson(name));
  json[tagToHex(Tag.SOPInstanceUID)] = { vr: 'UI', Value: [`${uidOf(json, Tag.SOPInstanceUID)}.${suffix}`] };
  json[tagToHex(Tag.SeriesInstanceUID)] = { vr: 'UI', Value: [`${uidOf(json, Tag.SeriesInstanceUID)}.${suffix}`] };
  return json;
}

function readFile(path: string): { json: DicomJson; ts: string } {
  const bytes = readFileSync(path);
  const prefix = readPart10Prefix(bytes, true)!;
  const ts = lookupTransferSyntax(prefix.transferSyntaxUid)!;
  const dataset = bytes.subarray(prefix.datasetOffset);
  return { json: datasetToJson(readWholeDataset(ts.deflated ? inflateRawSync(dataset) : dataset, ts)), ts: prefix.transferSyntaxUid };
}

/**
 * SHA-256 of a file's dataset. Deflated data is compared inflated: dcmtk re-compresses when it sends,
 * so the deflate stream on the wire is not the file's (the archive keeps the wire's bytes).
 */
function datasetHash(file: Buffer): string {
  const prefix = readPart10Prefix(file, true)!;
  const dataset = datasetBytes(file);
  return sha256(lookupTransferSyntax(prefix.transferSyntaxUid)!.deflated ? inflateRawSync(dataset) : dataset);
}

describe('DIMSE against the running archive (dcmtk tools)', () => {
  let archive: RunningArchive;
  let work: string;
  let scpPort: number;
  const sent = new Map<string, { path: string; dataset: string }>(); // SOP Instance UID -> file, dataset SHA-256

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vna-dimse-'));
    scpPort = await freePort();
    archive = await RunningArchive.start({ label: 'dimse', env: { VNA_DICOM_NODES: `STORESCP@127.0.0.1:${scpPort}` } });
  });

  afterAll(async () => {
    await archive?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('answers C-ECHO', async () => {
    const r = await dcmtk('echoscu', ['-aec', 'VNA', '127.0.0.1', String(archive.dicomPort)]);
    expect(r.code).toBe(0);
  });

  it('stores every fixture, in every encoding, as received (C-STORE)', async () => {
    const inDir = join(work, 'in');
    const files: string[] = [];
    for (const name of ['ct-ge-latin1', 'mr-siemens-utf8', 'sc-japanese-iso2022', 'sc-korean-iso2022', 'sc-chinese-gb18030', 'sc-cyrillic', 'sc-greek']) {
      files.push(writeFixture(inDir, name));
    }
    const implicit = writeImplicit(inDir, 'ct-implicit', variant('ct-ge-latin1', 2));
    const bigEndian = await transcode(writeFixture(inDir, 'ct-be', variant('ct-ge-latin1', 3)), 'big-endian');
    const deflated = await transcode(writeFixture(inDir, 'ct-deflated', variant('ct-ge-latin1', 4)), 'deflated');
    const jpeg = await transcode(writeFixture(inDir, 'us-philips-8bit'), 'jpeg-baseline');
    for (const path of [...files, implicit, bigEndian, deflated, jpeg]) {
      const uid = uidOf(readFile(path).json, Tag.SOPInstanceUID);
      sent.set(uid, { path, dataset: datasetHash(readFileSync(path)) });
    }
    // Each file goes in its own encoding: storescu proposes implicit VR only (-xi), big endian first (-xb),
    // deflated (-xd) or JPEG (-xy) only when told, and would otherwise convert the file before sending.
    for (const [args, list] of [
      [[], files],
      [['-xi'], [implicit]],
      [['-xb'], [bigEndian]],
      [['-xd'], [deflated]],
      [['-xy'], [jpeg]],
    ] as const) {
      const r = await dcmtk('storescu', ['-aec', 'VNA', ...args, '127.0.0.1', String(archive.dicomPort), ...list]);
      expect(r.stderr).not.toMatch(/E:|W:/);
      expect(r.code).toBe(0);
    }
    const rows = await (await archive.fetch('/dicomweb/instances?includefield=00020010&limit=100')).json() as DicomJson[];
    expect(rows.map((r) => uidOf(r, Tag.SOPInstanceUID)).sort()).toEqual([...sent.keys()].sort());
  });

  it('returns every stored dataset byte for byte over WADO-RS, in its stored transfer syntax', async () => {
    for (const [uid, { path, dataset }] of sent) {
      const { json, ts } = readFile(path);
      const study = uidOf(json, Tag.StudyInstanceUID);
      const series = uidOf(json, Tag.SeriesInstanceUID);
      const res = await archive.fetch(`/dicomweb/studies/${study}/series/${series}/instances/${uid}`);
      expect(res.status).toBe(200);
      const parts = multipartBodies(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
      expect(parts).toHaveLength(1);
      expect(parts[0]!.headers).toContain(`transfer-syntax=${ts}`);
      expect({ uid, sha256: datasetHash(parts[0]!.body) }).toEqual({ uid, sha256: dataset });
    }
  });

  it('decodes names in every character set to UTF-8 for QIDO-RS', async () => {
    const names = new Map<string, unknown>();
    for (const r of (await (await archive.fetch('/dicomweb/studies')).json()) as DicomJson[]) {
      names.set(String(r['00100020']?.Value?.[0]), r['00100010']?.Value?.[0]);
    }
    expect(names.get('PID-JP-10')).toEqual({ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' });
    expect(names.get('PID-KR-11')).toEqual({ Alphabetic: 'Hong^Gildong', Ideographic: '洪^吉洞', Phonetic: '홍^길동' });
    expect(names.get('PID-CN-12')).toEqual({ Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小东' });
    expect(names.get('PID-RU-13')).toEqual({ Alphabetic: 'Люкceмбypг' });
    expect(names.get('PID-GR-14')).toEqual({ Alphabetic: 'Διονυσιος' });
    expect(names.get('PID-GE-1')).toEqual({ Alphabetic: 'Müller^Jürgen' });
    expect(names.get('PID-SIE-2')).toEqual({ Alphabetic: 'Ωμέγα^Ζωή' });
    // Ideographic search finds the Japanese patient; case-insensitive alphabetic prefix finds the German one.
    const jp = (await (await archive.fetch(`/dicomweb/studies?PatientName=${encodeURIComponent('山田*')}`)).json()) as DicomJson[];
    expect(jp.map((r) => r['00100020']?.Value?.[0])).toEqual(['PID-JP-10']);
    const de = (await (await archive.fetch(`/dicomweb/studies?PatientName=${encodeURIComponent('müll*')}`)).json()) as DicomJson[];
    expect(de.map((r) => r['00100020']?.Value?.[0])).toEqual(['PID-GE-1']);
  });

  it('answers C-FIND at every level of the Study Root and Patient Root models', async () => {
    const out = join(work, 'find');
    const find = async (args: string[]): Promise<DicomJson[]> => {
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out, { recursive: true });
      const r = await dcmtk('findscu', ['-aec', 'VNA', '-X', '-od', out, '127.0.0.1', String(archive.dicomPort), ...args]);
      expect(r.code).toBe(0);
      let files: string[] = [];
      try {
        files = readdirSync(out).sort();
      } catch {
        return [];
      }
      return files.map((f) => readFile(join(out, f)).json);
    };
    const studies = await find(['-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientName=M*', '-k', 'StudyInstanceUID', '-k', 'PatientID', '-k', 'NumberOfStudyRelatedInstances', '-k', 'ModalitiesInStudy']);
    const ids = studies.map((s) => String(s['00100020']?.Value?.[0])).sort();
    expect(ids).toEqual(['PID-GE-1']);
    expect(studies[0]!['00201208']?.Value).toEqual([4]);
    expect(studies[0]!['00080061']?.Value).toEqual(['CT']);

    const ge = uidOf(fixtureJson('ct-ge-latin1'), Tag.StudyInstanceUID);
    const series = await find(['-S', '-k', 'QueryRetrieveLevel=SERIES', '-k', `StudyInstanceUID=${ge}`, '-k', 'SeriesInstanceUID', '-k', 'Modality', '-k', 'NumberOfSeriesRelatedInstances']);
    expect(series).toHaveLength(4);
    const images = await find(['-S', '-k', 'QueryRetrieveLevel=IMAGE', '-k', `StudyInstanceUID=${ge}`, '-k', `SeriesInstanceUID=${uidOf(fixtureJson('ct-ge-latin1'), Tag.SeriesInstanceUID)}`, '-k', 'SOPInstanceUID', '-k', 'SOPClassUID']);
    expect(images.map((i) => uidOf(i, Tag.SOPInstanceUID))).toEqual([uidOf(fixtureJson('ct-ge-latin1'), Tag.SOPInstanceUID)]);

    const patients = await find(['-P', '-k', 'QueryRetrieveLevel=PATIENT', '-k', 'PatientID=PID-JP-10', '-k', 'PatientName', '-k', 'NumberOfPatientRelatedStudies']);
    expect(patients).toHaveLength(1);
    // Non-ASCII results go out in UTF-8 with the character set declared (decoded here by our reader).
    expect(patients[0]!['00100010']?.Value?.[0]).toEqual({ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' });
    expect(patients[0]!['00201200']?.Value).toEqual([1]);
    const patientStudies = await find(['-P', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientID=PID-KR-11', '-k', 'StudyInstanceUID']);
    expect(patientStudies.map((s) => uidOf(s, Tag.StudyInstanceUID))).toEqual([uidOf(fixtureJson('sc-korean-iso2022'), Tag.StudyInstanceUID)]);
  });

  it('moves a study to a known AE (C-MOVE into storescp), datasets unchanged', async () => {
    const received = join(work, 'moved');
    mkdirSync(received, { recursive: true });
    const scp = dcmtkDaemon('storescp', ['-aet', 'STORESCP', '+xa', '-od', received, String(scpPort)]);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const study = uidOf(fixtureJson('ct-ge-latin1'), Tag.StudyInstanceUID);
      const r = await dcmtk('movescu', ['-S', '-aec', 'VNA', '-aem', 'STORESCP', '127.0.0.1', String(archive.dicomPort), '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`]);
      expect({ code: r.code, errors: r.stderr }).toEqual({ code: 0, errors: '' });
      const files = readdirSync(received);
      expect(files).toHaveLength(4);
      for (const f of files) {
        const bytes = readFileSync(join(received, f));
        const uid = uidOf(readFile(join(received, f)).json, Tag.SOPInstanceUID);
        expect(datasetHash(bytes)).toBe(sent.get(uid)!.dataset);
      }
      const unknown = await dcmtk('movescu', ['-S', '-aec', 'VNA', '-aem', 'NOBODY', '127.0.0.1', String(archive.dicomPort), '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`]);
      expect(unknown.stderr + unknown.stdout).toMatch(/MoveDestinationUnknown/);
    } finally {
      await scp.stop();
    }
  });

  it('sends a series back on the same association (C-GET)', async () => {
    const out = join(work, 'got');
    mkdirSync(out, { recursive: true });
    const json = fixtureJson('mr-siemens-utf8');
    const r = await dcmtk('getscu', ['-S', '-aec', 'VNA', '-od', out, '127.0.0.1', String(archive.dicomPort), '-k', 'QueryRetrieveLevel=SERIES', '-k', `StudyInstanceUID=${uidOf(json, Tag.StudyInstanceUID)}`, '-k', `SeriesInstanceUID=${uidOf(json, Tag.SeriesInstanceUID)}`]);
    expect(r.code).toBe(0);
    const files = readdirSync(out);
    expect(files).toHaveLength(1);
    const bytes = readFileSync(join(out, files[0]!));
    expect(datasetHash(bytes)).toBe(sent.get(uidOf(json, Tag.SOPInstanceUID))!.dataset);
  });

  it('sends an implicit VR object to a C-GET requester that accepts only explicit VR, values unchanged', async () => {
    const out = join(work, 'got-implicit');
    mkdirSync(out, { recursive: true });
    const json = variant('ct-ge-latin1', 2);
    // getscu accepts its incoming storage in explicit VR little endian only when told so (+xe is its default preference).
    const r = await dcmtk('getscu', ['-S', '-aec', 'VNA', '-od', out, '127.0.0.1', String(archive.dicomPort), '-k', 'QueryRetrieveLevel=SERIES', '-k', `StudyInstanceUID=${uidOf(json, Tag.StudyInstanceUID)}`, '-k', `SeriesInstanceUID=${uidOf(json, Tag.SeriesInstanceUID)}`]);
    expect(r.code).toBe(0);
    const files = readdirSync(out);
    expect(files).toHaveLength(1);
    const received = readFile(join(out, files[0]!));
    const original = readFile(sent.get(uidOf(json, Tag.SOPInstanceUID))!.path);
    expect(original.ts).toBe('1.2.840.10008.1.2');
    expect(received.ts).toBe('1.2.840.10008.1.2.1');
    for (const key of ['00100010', '00081110', '00200013', '7FE00010', '00280010']) expect(received.json[key]).toEqual(original.json[key]);
  });

  it('moves and gets objects hundreds of PDUs long (4 MiB multi-frame each) byte for byte, streamed from the archive', async () => {
    // Two objects of a study of their own: 8 frames of 512 x 512 x 16 bits of random pixels each, so a
    // misplaced, lost or repeated PDU shows; storescp and getscu take PDUs of 16 KiB (their default).
    const dir = join(work, 'big');
    const objects = ['1', '2'].map((n) => {
      const json = variant('ct-ge-latin1', 70);
      json[tagToHex(Tag.StudyInstanceUID)] = { vr: 'UI', Value: [`${uidOf(json, Tag.StudyInstanceUID)}.70`] };
      json[tagToHex(Tag.SOPInstanceUID)] = { vr: 'UI', Value: [`${uidOf(json, Tag.SOPInstanceUID)}.${n}`] };
      json[tagToHex(Tag.Rows)] = { vr: 'US', Value: [512] };
      json[tagToHex(Tag.Columns)] = { vr: 'US', Value: [512] };
      json['00280008'] = { vr: 'IS', Value: [8] };
      json[tagToHex(Tag.PixelData)] = { vr: 'OW', InlineBinary: randomBytes(512 * 512 * 2 * 8).toString('base64') };
      return { json, path: writeFixture(dir, `ct-big-${n}`, json) };
    });
    const stored = await dcmtk('storescu', ['-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), ...objects.map((o) => o.path)]);
    expect(stored.code).toBe(0);
    const expected = new Map(objects.map((o) => [uidOf(o.json, Tag.SOPInstanceUID), datasetHash(readFileSync(o.path))]));
    const series = ['-k', 'QueryRetrieveLevel=SERIES', '-k', `StudyInstanceUID=${uidOf(objects[0]!.json, Tag.StudyInstanceUID)}`, '-k', `SeriesInstanceUID=${uidOf(objects[0]!.json, Tag.SeriesInstanceUID)}`];
    const received = (dir: string): Map<string, string> =>
      new Map(readdirSync(dir).map((f) => [uidOf(readFile(join(dir, f)).json, Tag.SOPInstanceUID), datasetHash(readFileSync(join(dir, f)))]));

    const moved = join(work, 'big-moved');
    mkdirSync(moved, { recursive: true });
    const scp = dcmtkDaemon('storescp', ['-aet', 'STORESCP', '+xa', '-od', moved, String(scpPort)]);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const r = await dcmtk('movescu', ['-S', '-aec', 'VNA', '-aem', 'STORESCP', '127.0.0.1', String(archive.dicomPort), ...series]);
      expect({ code: r.code, errors: r.stderr }).toEqual({ code: 0, errors: '' });
    } finally {
      await scp.stop();
    }
    expect(received(moved)).toEqual(expected);

    // C-GET: the sub-operations and the pending C-GET responses share the association, and must not interleave.
    const got = join(work, 'big-got');
    mkdirSync(got, { recursive: true });
    const r = await dcmtk('getscu', ['-S', '-aec', 'VNA', '-od', got, '127.0.0.1', String(archive.dicomPort), ...series]);
    expect({ code: r.code, errors: r.stderr }).toEqual({ code: 0, errors: '' });
    // getscu writes sequences with undefined lengths (it has no bit-preserving mode): every value, the pixels among them, must be the original's.
    const files = readdirSync(got);
    expect(files).toHaveLength(2);
    for (const f of files) {
      const { json, ts } = readFile(join(got, f));
      const original = objects.find((o) => uidOf(o.json, Tag.SOPInstanceUID) === uidOf(json, Tag.SOPInstanceUID))!;
      expect(ts).toBe('1.2.840.10008.1.2.1');
      expect(json).toEqual(readFile(original.path).json);
    }
  });
});
