import type { DicomJson } from '#vna/dicom';

/** Key Object Selection Document Storage (PS3.4 B.5). */
export const KOS_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.88.59';

/** The IHE IOCM rejection reasons (PS3.16 CID 7011, DCM), kept with each rejection. */
export const REJECTION_REASONS: Readonly<Record<string, string>> = {
  '113001': 'Rejected for Quality Reasons',
  '113037': 'Rejected for Patient Safety Reasons',
  '113038': 'Incorrect Modality Worklist Entry',
  '113039': 'Data Retention Policy Expired',
};

/** Other Key Object Selection Document Titles (PS3.16 CID 7010, DCM): ordinary key object notes, stored as such. */
const OTHER_KOS_TITLES = new Set([
  '113000', '113002', '113003', '113004', '113005', '113006', '113007', '113008', '113009', '113010', '113013', '113018', '113020', '113021',
  '113030', '113031', '113032', '113033', '113034', '113035', '113036',
]);

const CONCEPT_NAME_CODE_SEQUENCE = '0040A043';
const EVIDENCE_SEQUENCE = '0040A375';
const REFERENCED_SERIES_SEQUENCE = '00081115';
const REFERENCED_SOP_SEQUENCE = '00081199';
const STUDY_UID = '0020000D';
const SERIES_UID = '0020000E';
const REFERENCED_SOP_CLASS = '00081150';
const REFERENCED_SOP_INSTANCE = '00081155';
const CODE_VALUE = '00080100';
const CODING_SCHEME = '00080102';

/** A rejection note that cannot be applied; the note is refused and nothing changes. */
export class RejectionNoteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RejectionNoteError';
  }
}

export interface RejectedReference {
  readonly studyUid: string;
  readonly seriesUid: string;
  readonly sopClassUid: string | null;
  readonly sopInstanceUid: string;
}

export interface RejectionNote {
  readonly code: string;
  readonly meaning: string;
  readonly references: readonly RejectedReference[];
}

function text(json: DicomJson | undefined, key: string): string | undefined {
  const v = json?.[key]?.Value?.[0];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

function items(json: DicomJson | undefined, key: string): DicomJson[] {
  return (json?.[key]?.Value ?? []) as DicomJson[];
}

/**
 * What a Key Object Selection document means to the archive (IHE RAD TF-2 IOCM, RAD-66; PS3.3
 * A.35.4): a rejection note (Document Title 113001, 113037, 113038 or 113039, DCM) with the
 * instances its Current Requested Procedure Evidence Sequence references, or undefined for an
 * ordinary key object note (another CID 7010 title). A KOS without a Document Title, with a title
 * the archive does not know, or a rejection note without evidence is refused: its intent is unknown
 * and guessing wrong would either hide images or show rejected ones.
 */
export function parseRejectionNote(kos: DicomJson): RejectionNote | undefined {
  const title = items(kos, CONCEPT_NAME_CODE_SEQUENCE)[0];
  const code = text(title, CODE_VALUE);
  const scheme = text(title, CODING_SCHEME);
  if (!code || !scheme) throw new RejectionNoteError('the Key Object Selection has no Document Title (Concept Name Code Sequence)');
  if (scheme !== 'DCM' || !(code in REJECTION_REASONS || OTHER_KOS_TITLES.has(code))) {
    throw new RejectionNoteError(`unknown Key Object Selection Document Title (${code}, ${scheme})`);
  }
  const meaning = REJECTION_REASONS[code];
  if (meaning === undefined) return undefined;
  const studies = items(kos, EVIDENCE_SEQUENCE);
  if (studies.length === 0) throw new RejectionNoteError(`rejection note ${code} without a Current Requested Procedure Evidence Sequence`);
  const references: RejectedReference[] = [];
  for (const study of studies) {
    const studyUid = text(study, STUDY_UID);
    if (!studyUid) throw new RejectionNoteError('an evidence item without a Study Instance UID');
    const series = items(study, REFERENCED_SERIES_SEQUENCE);
    if (series.length === 0) throw new RejectionNoteError(`evidence of study ${studyUid} without a Referenced Series Sequence`);
    for (const s of series) {
      const seriesUid = text(s, SERIES_UID);
      if (!seriesUid) throw new RejectionNoteError(`evidence of study ${studyUid}: a series item without a Series Instance UID`);
      const sops = items(s, REFERENCED_SOP_SEQUENCE);
      if (sops.length === 0) throw new RejectionNoteError(`evidence of series ${seriesUid} without a Referenced SOP Sequence`);
      for (const sop of sops) {
        const sopInstanceUid = text(sop, REFERENCED_SOP_INSTANCE);
        if (!sopInstanceUid) throw new RejectionNoteError(`evidence of series ${seriesUid}: an item without a Referenced SOP Instance UID`);
        references.push({ studyUid, seriesUid, sopClassUid: text(sop, REFERENCED_SOP_CLASS) ?? null, sopInstanceUid });
      }
    }
  }
  // An instance named twice counts once, where it was first named.
  const unique = new Map<string, RejectedReference>();
  for (const r of references) if (!unique.has(r.sopInstanceUid)) unique.set(r.sopInstanceUid, r);
  return { code, meaning, references: [...unique.values()] };
}
