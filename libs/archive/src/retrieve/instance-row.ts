/** What retrieve needs to know of a stored instance. */
export interface InstanceRow {
  readonly id: string;
  readonly studyUid: string;
  readonly seriesUid: string;
  readonly sopInstanceUid: string;
  readonly sopClassUid: string;
  readonly transferSyntaxUid: string;
  readonly sizeBytes: number;
  readonly datasetOffset: number;
  readonly pixelOffset: number | null;
  readonly pixelLength: number | null;
  readonly fragments: [number, number][] | null;
  /** Top-level bulk values other than pixel data: tag (hex) -> [offset, length] in the stored file. */
  readonly bulkElements: Record<string, [number, number]> | null;
  readonly rows: number | null;
  readonly columns: number | null;
  readonly bitsAllocated: number | null;
  readonly samplesPerPixel: number | null;
  readonly numberOfFrames: number | null;
  readonly storageState: 'spooled' | 'stored';
  readonly spoolNode: string | null;
  readonly spoolPath: string | null;
  readonly blobKey: string | null;
  /** The blob's access tier as the index knows it (Archive: not readable until rehydrated). */
  readonly accessTier: 'Hot' | 'Cool' | 'Cold' | 'Archive';
  /** What ingest coercion changed in this instance (null values: removed), laid under the other layers; null: nothing. */
  readonly instanceOverlay: Record<string, { vr: string; Value?: unknown[] } | null> | null;
  /** The patient's current attributes to lay over the stored header (empty: none; PATIENT_OVERLAY_SQL). */
  readonly patientOverlay: Record<string, { vr: string; Value?: unknown[] }>;
  /** Corrected study-level values of the instance's study (libs/corrections; empty: none). */
  readonly studyOverlay: Record<string, { vr: string; Value?: unknown[] }>;
  /** What a series moved to another study carries (its Study Instance UID, the old place's attributes emptied; empty: not moved). */
  readonly seriesOverlay: Record<string, { vr: string; Value?: unknown[] }>;
}

/**
 * The study's and the patient's layers of the egress overlay: the study's corrections and the
 * patient's current values (registry, merges); for a series moved in from another study
 * (libs/corrections), all of the study's and the patient's attributes as the index has them now,
 * so a later correction of the study, a patient update or a study reassigned to another patient
 * reaches the moved series too.
 */
export const STUDY_OVERLAY_SQL = `(CASE WHEN se.overlay = '{}'::jsonb THEN st.overlay ELSE st.attributes || st.overlay END)`;
export const PATIENT_OVERLAY_SQL = `(CASE WHEN se.overlay = '{}'::jsonb THEN p.overlay ELSE p.attributes || p.overlay END)`;

/** The whole egress overlay as one DICOM JSON object (later layers win), for metadata built in SQL. */
export const OVERLAY_SQL = `(se.overlay || ${PATIENT_OVERLAY_SQL} || ${STUDY_OVERLAY_SQL})`;

export const INSTANCE_ROW_COLUMNS = `
  i.id, st.study_uid AS "studyUid", se.series_uid AS "seriesUid", i.sop_instance_uid AS "sopInstanceUid",
  i.sop_class_uid AS "sopClassUid", i.transfer_syntax_uid AS "transferSyntaxUid", i.size_bytes AS "sizeBytes",
  i.dataset_offset AS "datasetOffset", i.pixel_offset AS "pixelOffset", i.pixel_length AS "pixelLength",
  i.fragments, i.bulk_elements AS "bulkElements", i.rows, i.columns, i.bits_allocated AS "bitsAllocated", i.samples_per_pixel AS "samplesPerPixel",
  i.number_of_frames AS "numberOfFrames", i.storage_state AS "storageState", i.spool_node AS "spoolNode",
  i.spool_path AS "spoolPath", i.blob_key AS "blobKey", i.access_tier AS "accessTier", i.coerced AS "instanceOverlay", ${PATIENT_OVERLAY_SQL} AS "patientOverlay",
  ${STUDY_OVERLAY_SQL} AS "studyOverlay", se.overlay AS "seriesOverlay"`;

/** The FROM clause INSTANCE_ROW_COLUMNS reads from. */
export const INSTANCE_ROW_FROM = `instance i JOIN series se ON se.id = i.series_fk JOIN study st ON st.id = se.study_fk JOIN patient p ON p.id = st.patient_fk`;

export function toInstanceRow(r: Record<string, unknown>): InstanceRow {
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  return {
    ...(r as unknown as InstanceRow),
    id: String(r['id']),
    sizeBytes: Number(r['sizeBytes']),
    datasetOffset: Number(r['datasetOffset']),
    pixelOffset: num(r['pixelOffset']),
    pixelLength: num(r['pixelLength']),
  };
}
