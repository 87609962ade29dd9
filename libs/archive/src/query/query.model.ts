import { Tag } from '#vna/dicom';

export type QueryLevel = 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE';

/** A search, from QIDO-RS or C-FIND: the same matching and the same answers. */
export interface QueryRequest {
  readonly level: QueryLevel;
  /** Matching keys (and return keys with an empty value), tag -> value as text (PN with '=' groups). */
  readonly keys: ReadonlyMap<number, string>;
  /** Extra return attributes (QIDO includefield), or all the index holds at the level. */
  readonly includeFields: readonly number[];
  readonly includeAll: boolean;
  readonly limit: number;
  readonly offset: number;
  /** Relational queries (QIDO) may match on higher-level keys; hierarchical (C-FIND) only on the level's own and its parents' unique keys. */
  readonly relational: boolean;
  /** The DICOMweb base URL for RetrieveURL, when the caller speaks DICOMweb. */
  readonly retrieveBase?: string;
}

export interface QueryResult {
  readonly matches: import('#vna/dicom').DicomJson[];
  /** More matches exist beyond `limit` (QIDO answers with a Warning header). */
  readonly truncated: boolean;
}

/** Return attributes of QIDO-RS (PS3.18 Tables 10.6.3-3 to -5) and their C-FIND equivalents. */
export const DEFAULT_RETURN: Record<QueryLevel, readonly number[]> = {
  PATIENT: [Tag.PatientName, Tag.PatientID, Tag.IssuerOfPatientID, Tag.PatientBirthDate, Tag.PatientSex],
  STUDY: [
    Tag.StudyDate,
    Tag.StudyTime,
    Tag.AccessionNumber,
    Tag.InstanceAvailability,
    Tag.ModalitiesInStudy,
    Tag.ReferringPhysicianName,
    Tag.TimezoneOffsetFromUTC,
    Tag.RetrieveURL,
    Tag.PatientName,
    Tag.PatientID,
    Tag.IssuerOfPatientID,
    Tag.PatientBirthDate,
    Tag.PatientSex,
    Tag.StudyInstanceUID,
    Tag.StudyID,
    Tag.StudyDescription,
    Tag.NumberOfStudyRelatedSeries,
    Tag.NumberOfStudyRelatedInstances,
  ],
  SERIES: [
    Tag.Modality,
    Tag.TimezoneOffsetFromUTC,
    Tag.SeriesDescription,
    Tag.SeriesInstanceUID,
    Tag.PerformedProcedureStepStartDate,
    Tag.PerformedProcedureStepStartTime,
    0x00400275, // RequestAttributesSequence
    Tag.SeriesNumber,
    Tag.BodyPartExamined,
    Tag.NumberOfSeriesRelatedInstances,
    Tag.RetrieveURL,
    Tag.InstanceAvailability,
  ],
  IMAGE: [
    Tag.SOPClassUID,
    Tag.SOPInstanceUID,
    Tag.InstanceAvailability,
    Tag.TimezoneOffsetFromUTC,
    Tag.RetrieveURL,
    Tag.InstanceNumber,
    Tag.Rows,
    Tag.Columns,
    Tag.BitsAllocated,
    Tag.NumberOfFrames,
  ],
};
