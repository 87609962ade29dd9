import { RetrieveService } from '#vna/archive';
import { CorrectionService, CorrectionsModule, RejectionService } from '#vna/corrections';
import { type DicomJson, datasetToJson, EXPLICIT_LE, readWholeDataset, Tag, tagToHex, type WriteElement, type WriteItem } from '#vna/dicom';
import { type ArchiveHarness, imageDataset, type MediumEnv, startArchive, storeDataset, uid } from './medium.js';

/** Medium tests of libs/corrections: the archive engine with CorrectionsModule as the apps wire it. */
export interface CorrectionsHarness extends ArchiveHarness {
  readonly corrections: CorrectionService;
  readonly rejections: RejectionService;
  readonly retrieve: RetrieveService;
}

export async function startCorrections(env: MediumEnv): Promise<CorrectionsHarness> {
  const archive = await startArchive(env, [CorrectionsModule]);
  return {
    ...archive,
    corrections: archive.module.get(CorrectionService),
    rejections: archive.module.get(RejectionService),
    retrieve: archive.module.get(RetrieveService),
  };
}

export interface StoredObject {
  readonly studyUid: string;
  readonly seriesUid: string;
  readonly sopInstanceUid: string;
}

/** Stores one CT object with these header attributes. */
export async function storeObject(h: ArchiveHarness, o: { studyUid: string; seriesUid: string; sopInstanceUid?: string; extra?: WriteElement[] }): Promise<StoredObject> {
  const sopInstanceUid = o.sopInstanceUid ?? uid();
  await storeDataset(h.ingest, imageDataset({ studyUid: o.studyUid, seriesUid: o.seriesUid, sopInstanceUid, extra: o.extra }), { sopInstanceUid });
  return { studyUid: o.studyUid, seriesUid: o.seriesUid, sopInstanceUid };
}

/** The object as retrieve sends it (stored bytes with the egress overlay), as DICOM JSON, and its raw dataset. */
export async function retrieved(h: CorrectionsHarness, sopInstanceUid: string): Promise<{ json: DicomJson; bytes: Buffer }> {
  const [instance] = await h.retrieve.instancesByUid([sopInstanceUid]);
  if (!instance) throw new Error(`no current instance ${sopInstanceUid}`);
  const chunks: Buffer[] = [];
  for await (const chunk of await h.retrieve.openDataset(instance, 'TEST')) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  return { json: datasetToJson(readWholeDataset(bytes, EXPLICIT_LE)), bytes };
}

export function value(json: DicomJson | undefined, tag: number): unknown {
  const v = json?.[tagToHex(tag)]?.Value?.[0];
  return v && typeof v === 'object' && 'Alphabetic' in v ? (v as { Alphabetic: string }).Alphabetic : v;
}

/** A QIDO/C-FIND search (the QueryService both use). */
export async function search(h: ArchiveHarness, level: 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE', keys: Record<number, string> = {}, includeFields: number[] = []): Promise<DicomJson[]> {
  const result = await h.query.search({
    level,
    keys: new Map(Object.entries(keys).map(([k, v]) => [Number(k), v])),
    includeFields,
    includeAll: false,
    limit: 1000,
    offset: 0,
    relational: true,
  });
  return result.matches;
}

/** WADO-RS metadata of a study (DICOM JSON of each instance, with the overlay). */
export async function metadataOf(h: CorrectionsHarness, studyUid: string, seriesUid?: string): Promise<DicomJson[]> {
  let text = '';
  for await (const part of h.retrieve.metadata({ studyUid, seriesUid }, 'http://x')) text += part;
  return JSON.parse(`[${text}]`) as DicomJson[];
}

/**
 * The index as corrections and rejections may change it, for "changed nothing" and "restored
 * exactly" checks: study, series and instance rows (without update times) and the rejections.
 */
export async function indexSnapshot(h: ArchiveHarness): Promise<Record<string, unknown[]>> {
  return {
    studies: (await h.db.query(
      `SELECT id::text, study_uid, patient_fk::text, study_date, study_time, accession_number, study_id, description, referring_physician, attributes, overlay FROM study ORDER BY id`,
    )) as unknown[],
    series: (await h.db.query(`SELECT id::text, series_uid, study_fk::text, attributes, overlay FROM series ORDER BY id`)) as unknown[],
    instances: (await h.db.query(`SELECT id::text, sop_instance_uid, series_fk::text, is_current, version FROM instance ORDER BY id`)) as unknown[],
    patients: (await h.db.query(`SELECT id::text, current_patient_id, current_issuer, overlay FROM patient ORDER BY id`)) as unknown[],
    rejections: (await h.db.query(`SELECT id::text, sop_instance_uid, state, instance_fk::text FROM iocm_rejection ORDER BY id`)) as unknown[],
  };
}

export const KOS = '1.2.840.10008.5.1.4.1.1.88.59';

/**
 * A Key Object Selection document (PS3.3 A.35.4) as a C-STORE dataset, written with the archive's
 * own writer: Document Title `code` (DCM unless `scheme`), evidence referencing `refs` (grouped by
 * study and series). `evidence: false` leaves the Current Requested Procedure Evidence Sequence out.
 */
export function kosDataset(o: {
  sopInstanceUid: string;
  studyUid: string;
  seriesUid?: string;
  code?: string;
  scheme?: string;
  meaning?: string;
  refs: readonly StoredObject[];
  evidence?: boolean;
  patientId?: string;
}): Buffer {
  const byStudy = new Map<string, Map<string, string[]>>();
  for (const r of o.refs) {
    const series = byStudy.get(r.studyUid) ?? new Map<string, string[]>();
    series.set(r.seriesUid, [...(series.get(r.seriesUid) ?? []), r.sopInstanceUid]);
    byStudy.set(r.studyUid, series);
  }
  const evidence: WriteItem[] = [...byStudy].map(([studyUid, series]) => [
    { tag: Tag.StudyInstanceUID, vr: 'UI', value: studyUid },
    {
      tag: 0x00081115,
      vr: 'SQ',
      value: [...series].map(([seriesUid, sops]) => [
        { tag: Tag.SeriesInstanceUID, vr: 'UI', value: seriesUid },
        {
          tag: Tag.ReferencedSOPSequence,
          vr: 'SQ',
          value: sops.map((sop) => [
            { tag: Tag.ReferencedSOPClassUID, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
            { tag: Tag.ReferencedSOPInstanceUID, vr: 'UI', value: sop },
          ]),
        },
      ]),
    },
  ]);
  const extra: WriteElement[] = [
    { tag: Tag.Modality, vr: 'CS', value: 'KO' },
    { tag: Tag.PatientID, vr: 'LO', value: o.patientId ?? 'MEDIUM-1' },
    { tag: 0x0040a040, vr: 'CS', value: 'CONTAINER' },
    {
      tag: 0x0040a043,
      vr: 'SQ',
      value:
        o.code === undefined
          ? []
          : [
              [
                { tag: 0x00080100, vr: 'SH', value: o.code },
                { tag: 0x00080102, vr: 'SH', value: o.scheme ?? 'DCM' },
                { tag: 0x00080104, vr: 'LO', value: o.meaning ?? 'Rejected for Quality Reasons' },
              ],
            ],
    },
    { tag: 0x0040a050, vr: 'CS', value: 'SEPARATE' },
  ];
  if (o.evidence !== false) extra.push({ tag: 0x0040a375, vr: 'SQ', value: evidence });
  return imageDataset({ studyUid: o.studyUid, seriesUid: o.seriesUid ?? uid(), sopInstanceUid: o.sopInstanceUid, sopClassUid: KOS, noImage: true, extra });
}
