import {
  datasetToJson,
  type DicomDataset,
  type DicomJson,
  type DicomJsonAttribute,
  type DicomJsonPersonName,
  Tag,
  tagToHex,
} from '#vna/dicom';
import type { IngestNormalization } from './ingest-normalizer.js';
import { PATIENT_LEVEL, SERIES_LEVEL, STUDY_LEVEL } from '../model/levels.js';

/** What the index keeps of one received object, all text in UTF-8. */
export interface IndexRecord {
  readonly patient: {
    readonly patientId: string;
    readonly issuer: string;
    readonly name: DicomJsonPersonName;
    readonly birthDate: string | null;
    readonly sex: string | null;
    readonly attributes: DicomJson;
  };
  readonly study: {
    readonly studyUid: string;
    readonly studyDate: string | null;
    readonly studyTime: string | null;
    readonly accessionNumber: string | null;
    readonly studyId: string | null;
    readonly description: string | null;
    readonly referringPhysician: string;
    readonly attributes: DicomJson;
  };
  readonly series: {
    readonly seriesUid: string;
    readonly modality: string | null;
    readonly seriesNumber: number | null;
    readonly description: string | null;
    readonly bodyPart: string | null;
    readonly performedStartDate: string | null;
    readonly performedStartTime: string | null;
    readonly attributes: DicomJson;
  };
  readonly instance: {
    readonly sopInstanceUid: string;
    readonly sopClassUid: string;
    readonly instanceNumber: number | null;
    readonly rows: number | null;
    readonly columns: number | null;
    readonly bitsAllocated: number | null;
    readonly samplesPerPixel: number | null;
    readonly numberOfFrames: number | null;
    /** The whole dataset in the DICOM JSON model, bulk data as BulkDataURI placeholders. */
    readonly metadata: DicomJson;
  };
  readonly warnings: readonly string[];
  /** What normalization changed (absent: the object is indexed as received). */
  readonly normalization?: {
    readonly overlay: Readonly<Record<string, DicomJsonAttribute | null>>;
    readonly received: Readonly<Record<string, DicomJsonAttribute | null>>;
    readonly rules: readonly string[];
  };
}

/** Normalization of the decoded header before it is indexed (libs/normalization: coercion rules per source). */
export type IndexNormalizer = (json: DicomJson) => IngestNormalization | undefined;

/** A required attribute is missing or empty; the object cannot be indexed. */
export class MissingAttributeError extends Error {
  constructor(readonly keyword: string) {
    super(`${keyword} is missing or empty`);
    this.name = 'MissingAttributeError';
  }
}

/** BulkDataURI prefix that the retrieve side replaces with the DICOMweb base URL of the request. */
export const BULK_PLACEHOLDER_PREFIX = 'bulk:';

function first(json: DicomJson, tag: number): unknown {
  return json[tagToHex(tag)]?.Value?.[0];
}

function text(json: DicomJson, tag: number): string | null {
  const v = first(json, tag);
  return v === undefined || v === null ? null : String(v);
}

function int(json: DicomJson, tag: number): number | null {
  const v = first(json, tag);
  return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : null;
}

type Level = 'patient' | 'study' | 'series';

/** Level of each patient/study/series attribute by its JSON key, so one pass splits a dataset. */
const LEVEL_BY_KEY = new Map<string, Level>([
  ...[...SERIES_LEVEL].map((t) => [tagToHex(t), 'series'] as const),
  ...[...STUDY_LEVEL].map((t) => [tagToHex(t), 'study'] as const),
  ...[...PATIENT_LEVEL].map((t) => [tagToHex(t), 'patient'] as const),
]);

function splitLevels(json: DicomJson): Record<Level, DicomJson> {
  const out: Record<Level, DicomJson> = { patient: {}, study: {}, series: {} };
  for (const key in json) {
    const level = LEVEL_BY_KEY.get(key);
    if (level) out[level][key] = json[key]!;
  }
  return out;
}

/**
 * Builds the index record from a parsed header. Text is decoded from the object's character set
 * here, once; the index and everything read from it are UTF-8. `normalize` (coercion rules) works
 * on that decoded JSON: the index holds its result, the stored bytes stay as received.
 */
export function buildIndexRecord(dataset: DicomDataset, normalize?: IndexNormalizer): IndexRecord {
  const warnings: string[] = [];
  // Bulk data gets a placeholder naming its path below the DICOMweb base; retrieve puts the base in front.
  const uidOf = (tag: number): string => dataset.ascii(tag) ?? '';
  const bulkPath = `/studies/${uidOf(Tag.StudyInstanceUID)}/series/${uidOf(Tag.SeriesInstanceUID)}/instances/${uidOf(Tag.SOPInstanceUID)}/bulk/`;
  let metadata = datasetToJson(dataset, {
    warnings,
    bulkDataUri: (el) => `${BULK_PLACEHOLDER_PREFIX}${bulkPath}${tagToHex(el.tag)}`,
  });
  const normalized = normalize?.(metadata);
  if (normalized) {
    metadata = normalized.json;
    warnings.push(...normalized.warnings);
  }
  const require = (tag: number, keyword: string): string => {
    const v = text(metadata, tag);
    if (!v) throw new MissingAttributeError(keyword);
    return v;
  };
  const sopInstanceUid = require(Tag.SOPInstanceUID, 'SOPInstanceUID');
  const sopClassUid = require(Tag.SOPClassUID, 'SOPClassUID');
  const studyUid = require(Tag.StudyInstanceUID, 'StudyInstanceUID');
  const seriesUid = require(Tag.SeriesInstanceUID, 'SeriesInstanceUID');
  const levels = splitLevels(metadata);
  const name = (first(metadata, Tag.PatientName) as DicomJsonPersonName | undefined) ?? {};
  const referring = (first(metadata, Tag.ReferringPhysicianName) as DicomJsonPersonName | undefined) ?? {};
  return {
    patient: {
      // An object without a Patient ID is still archived (migrations bring such objects), under an empty id.
      patientId: text(metadata, Tag.PatientID) ?? '',
      issuer: text(metadata, Tag.IssuerOfPatientID) ?? '',
      name,
      birthDate: text(metadata, Tag.PatientBirthDate),
      sex: text(metadata, Tag.PatientSex),
      attributes: levels.patient,
    },
    study: {
      studyUid,
      studyDate: text(metadata, Tag.StudyDate),
      studyTime: text(metadata, Tag.StudyTime),
      accessionNumber: text(metadata, Tag.AccessionNumber),
      studyId: text(metadata, Tag.StudyID),
      description: text(metadata, Tag.StudyDescription),
      referringPhysician: referring.Alphabetic ?? '',
      attributes: levels.study,
    },
    series: {
      seriesUid,
      modality: text(metadata, Tag.Modality),
      seriesNumber: int(metadata, Tag.SeriesNumber),
      description: text(metadata, Tag.SeriesDescription),
      bodyPart: text(metadata, Tag.BodyPartExamined),
      performedStartDate: text(metadata, Tag.PerformedProcedureStepStartDate),
      performedStartTime: text(metadata, Tag.PerformedProcedureStepStartTime),
      attributes: levels.series,
    },
    instance: {
      sopInstanceUid,
      sopClassUid,
      instanceNumber: int(metadata, Tag.InstanceNumber),
      rows: dataset.uint16(Tag.Rows) ?? null,
      columns: dataset.uint16(Tag.Columns) ?? null,
      bitsAllocated: dataset.uint16(Tag.BitsAllocated) ?? null,
      samplesPerPixel: dataset.uint16(Tag.SamplesPerPixel) ?? null,
      numberOfFrames: int(metadata, Tag.NumberOfFrames),
      metadata,
    },
    warnings,
    ...(normalized && normalized.rules.length > 0 ? { normalization: { overlay: normalized.overlay, received: normalized.received, rules: normalized.rules } } : {}),
  };
}
