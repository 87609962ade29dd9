import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { type DicomJson, type DicomJsonAttribute, implicitVr, lookupTag, Tag, tagToHex } from '#vna/dicom';
import { PATIENT_LEVEL, SERIES_LEVEL, STUDY_LEVEL } from '../model/levels.js';
import { matchTemporal, matchText, matchUidList, matchValueList, QueryValueError, SqlParams } from './matching.js';
import { DEFAULT_RETURN, type QueryLevel, type QueryRequest, type QueryResult } from './query.model.js';

type KeyKind = 'pn' | 'text' | 'uid' | 'list' | 'DA' | 'TM' | 'int' | 'modalities' | 'sopclasses';

interface KeyDef {
  readonly level: QueryLevel;
  readonly kind: KeyKind;
  readonly column: string;
}

/** Keys with columns of their own; other keys at patient/study/series level match their stored JSON. */
const KEYS = new Map<number, KeyDef>([
  [Tag.PatientName, { level: 'PATIENT', kind: 'pn', column: 'p.name_' }],
  // The current identity (after ADT updates and merges), not the one the objects arrived with.
  [Tag.PatientID, { level: 'PATIENT', kind: 'text', column: 'p.current_patient_id' }],
  [Tag.IssuerOfPatientID, { level: 'PATIENT', kind: 'text', column: 'p.current_issuer' }],
  [Tag.PatientBirthDate, { level: 'PATIENT', kind: 'DA', column: 'p.birth_date' }],
  [Tag.PatientSex, { level: 'PATIENT', kind: 'text', column: 'p.sex' }],
  [Tag.StudyInstanceUID, { level: 'STUDY', kind: 'uid', column: 'st.study_uid' }],
  [Tag.StudyDate, { level: 'STUDY', kind: 'DA', column: 'st.study_date' }],
  [Tag.StudyTime, { level: 'STUDY', kind: 'TM', column: 'st.study_time' }],
  [Tag.AccessionNumber, { level: 'STUDY', kind: 'text', column: 'st.accession_number' }],
  [Tag.StudyID, { level: 'STUDY', kind: 'text', column: 'st.study_id' }],
  [Tag.StudyDescription, { level: 'STUDY', kind: 'text', column: 'st.description' }],
  [Tag.ReferringPhysicianName, { level: 'STUDY', kind: 'pn', column: 'st.referring_physician' }],
  [Tag.ModalitiesInStudy, { level: 'STUDY', kind: 'modalities', column: '' }],
  [Tag.SOPClassesInStudy, { level: 'STUDY', kind: 'sopclasses', column: '' }],
  [Tag.SeriesInstanceUID, { level: 'SERIES', kind: 'uid', column: 'se.series_uid' }],
  [Tag.Modality, { level: 'SERIES', kind: 'list', column: 'se.modality' }],
  [Tag.SeriesNumber, { level: 'SERIES', kind: 'int', column: 'se.series_number' }],
  [Tag.SeriesDescription, { level: 'SERIES', kind: 'text', column: 'se.description' }],
  [Tag.BodyPartExamined, { level: 'SERIES', kind: 'text', column: 'se.body_part' }],
  [Tag.PerformedProcedureStepStartDate, { level: 'SERIES', kind: 'DA', column: 'se.performed_start_date' }],
  [Tag.PerformedProcedureStepStartTime, { level: 'SERIES', kind: 'TM', column: 'se.performed_start_time' }],
  [Tag.SOPInstanceUID, { level: 'IMAGE', kind: 'uid', column: 'i.sop_instance_uid' }],
  [Tag.SOPClassUID, { level: 'IMAGE', kind: 'uid', column: 'i.sop_class_uid' }],
  [Tag.InstanceNumber, { level: 'IMAGE', kind: 'int', column: 'i.instance_number' }],
]);

const RANK: Record<QueryLevel, number> = { PATIENT: 0, STUDY: 1, SERIES: 2, IMAGE: 3 };

/** Attributes the index computes rather than stores. */
const COMPUTED = new Set<number>([
  Tag.ModalitiesInStudy,
  Tag.SOPClassesInStudy,
  Tag.NumberOfStudyRelatedSeries,
  Tag.NumberOfStudyRelatedInstances,
  Tag.NumberOfSeriesRelatedInstances,
  Tag.NumberOfPatientRelatedStudies,
  Tag.NumberOfPatientRelatedSeries,
  Tag.NumberOfPatientRelatedInstances,
  Tag.InstanceAvailability,
  Tag.RetrieveURL,
  Tag.QueryRetrieveLevel,
  Tag.RetrieveAETitle,
]);

const INSTANCE_COLUMNS: ReadonlyMap<number, { column: string; vr: string }> = new Map([
  [Tag.SOPClassUID, { column: 'sop_class_uid', vr: 'UI' }],
  [Tag.SOPInstanceUID, { column: 'sop_instance_uid', vr: 'UI' }],
  [Tag.InstanceNumber, { column: 'instance_number', vr: 'IS' }],
  [Tag.Rows, { column: 'rows', vr: 'US' }],
  [Tag.Columns, { column: 'columns', vr: 'US' }],
  [Tag.BitsAllocated, { column: 'bits_allocated', vr: 'US' }],
  [Tag.NumberOfFrames, { column: 'number_of_frames', vr: 'IS' }],
]);

function levelOf(tag: number): QueryLevel {
  const def = KEYS.get(tag);
  if (def) return def.level;
  if (PATIENT_LEVEL.has(tag)) return 'PATIENT';
  if (STUDY_LEVEL.has(tag)) return 'STUDY';
  if (SERIES_LEVEL.has(tag)) return 'SERIES';
  return 'IMAGE';
}

const ALIAS: Record<QueryLevel, string> = { PATIENT: 'p', STUDY: 'st', SERIES: 'se', IMAGE: 'i' };

interface Row {
  p_id: string;
  p_attrs: DicomJson;
  /** Current patient attributes (registry, merges) laid over the received ones. */
  p_overlay: DicomJson;
  st_id?: string;
  st_attrs?: DicomJson;
  study_uid?: string;
  se_id?: string;
  se_attrs?: DicomJson;
  series_uid?: string;
  modality?: string | null;
  series_number?: number | null;
  [key: string]: unknown;
}

/**
 * A study or series answers only while it holds a current instance: one whose instances were all
 * rejected (IHE IOCM) or whose series were all moved or joined elsewhere (corrections) is gone
 * from query, and from the counts.
 */
const STUDY_VISIBLE = (st: string): string => `EXISTS (SELECT 1 FROM series vs JOIN instance vi ON vi.series_fk = vs.id AND vi.is_current WHERE vs.study_fk = ${st}.id)`;
const SERIES_VISIBLE = (se: string): string => `EXISTS (SELECT 1 FROM instance vi WHERE vi.series_fk = ${se}.id AND vi.is_current)`;

/** The index patient rows of the same current patient as `p` (after merges, every identity it had). */
const SAME_PATIENT = 'SELECT pp.id FROM patient pp WHERE pp.current_patient_id = p.current_patient_id AND pp.current_issuer = p.current_issuer';

/**
 * QIDO-RS and C-FIND over the index (PS3.18 10.6, PS3.4 C.4.1). One implementation of matching,
 * so both protocols answer the same question the same way.
 */
@Injectable()
export class QueryService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
  ) {}

  async search(request: QueryRequest): Promise<QueryResult> {
    const { level } = request;
    const p = new SqlParams();
    const where: string[] = [];
    for (const [tag, value] of request.keys) {
      if (value === '') continue;
      const keyLevel = levelOf(tag);
      if (RANK[keyLevel] > RANK[level]) continue; // a key below the query level cannot match here
      const condition = this.condition(tag, value, keyLevel, p);
      if (condition) where.push(condition);
    }

    const returned = this.returnTags(request);
    // A patient is its current identity: rows received under identities since merged or linked to one registry patient answer once.
    const distinct = level === 'PATIENT' ? 'DISTINCT ON (p.current_issuer, p.current_patient_id) ' : '';
    const select: string[] = ['p.id AS p_id', 'p.attributes AS p_attrs', 'p.overlay AS p_overlay'];
    let from = 'patient p';
    if (RANK[level] >= RANK.STUDY) {
      select.push('st.id AS st_id', 'st.attributes AS st_attrs', 'st.study_uid');
      from = 'study st JOIN patient p ON p.id = st.patient_fk';
    }
    if (RANK[level] >= RANK.SERIES) {
      select.push('se.id AS se_id', 'se.attributes AS se_attrs', 'se.series_uid', 'se.modality', 'se.series_number');
      from = 'series se JOIN study st ON st.id = se.study_fk JOIN patient p ON p.id = st.patient_fk';
    }
    if (level === 'IMAGE') {
      select.push('i.id AS i_id', ...[...INSTANCE_COLUMNS.values()].map((c) => `i.${c.column}`));
      if (request.includeAll || returned.some((t) => levelOf(t) === 'IMAGE' && !INSTANCE_COLUMNS.has(t) && !COMPUTED.has(t))) {
        select.push('i.metadata');
      }
      from = 'instance i JOIN series se ON se.id = i.series_fk JOIN study st ON st.id = se.study_fk JOIN patient p ON p.id = st.patient_fk';
      where.push('i.is_current');
    } else if (level === 'PATIENT') {
      where.push(`EXISTS (SELECT 1 FROM study s0 WHERE s0.patient_fk = p.id AND ${STUDY_VISIBLE('s0')})`);
    } else {
      where.push(level === 'STUDY' ? STUDY_VISIBLE('st') : SERIES_VISIBLE('se'));
    }
    for (const tag of returned) {
      const computed = this.computedColumn(tag, level);
      if (computed) select.push(computed);
    }

    const orderBy: Record<QueryLevel, string> = {
      PATIENT: 'p.current_issuer, p.current_patient_id, p.id',
      STUDY: 'st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST, st.id DESC',
      SERIES: 'st.id, se.series_number NULLS LAST, se.id',
      IMAGE: 'se.id, i.instance_number NULLS LAST, i.id',
    };
    const limit = Math.min(request.limit, this.config.qido.maxResults);
    const sql = `SELECT ${distinct}${select.join(', ')} FROM ${from}
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${orderBy[level]} LIMIT ${p.add(limit + 1)} OFFSET ${p.add(request.offset)}`;
    const rows = (await this.db.query(sql, p.values)) as Row[];
    const truncated = rows.length > limit;
    return { matches: rows.slice(0, limit).map((row) => this.compose(row, request, returned)), truncated };
  }

  private condition(tag: number, value: string, keyLevel: QueryLevel, p: SqlParams): string | undefined {
    const def = KEYS.get(tag);
    if (!def) {
      if (keyLevel === 'IMAGE') return undefined; // instance attributes without a column are not matched (PS3.18 allows ignoring them)
      // Stored JSON: single value or wildcard matching on the first value; a person name on its
      // alphabetic group, ignoring case like the names with columns of their own.
      const base = `${ALIAS[keyLevel]}.attributes -> '${tagToHex(tag)}' -> 'Value'`;
      if (lookupTag(tag)?.vr === 'PN') return matchText(`(${base} -> 0 ->> 'Alphabetic')`, value.split('=')[0] ?? '', p, true);
      return matchText(`(${base} ->> 0)`, value, p);
    }
    if (tag === Tag.PatientID) return this.patientId(def.column, value, p);
    switch (def.kind) {
      case 'pn':
        return this.personName(def.column, value, p);
      case 'text':
        return matchText(def.column, value, p);
      case 'uid':
        return matchUidList(def.column, value, p);
      case 'list':
        return matchValueList(def.column, value, p);
      case 'DA':
      case 'TM':
        return matchTemporal(def.column, def.kind, value, p);
      case 'int': {
        if (!/^-?\d+$/.test(value.trim())) throw new QueryValueError(`"${value}" is not an integer`);
        return `${def.column} = ${p.add(Number(value.trim()))}`;
      }
      case 'modalities': {
        const list = value.split('\\').map((m) => m.trim()).filter(Boolean);
        if (list.length === 0) return undefined;
        return `EXISTS (SELECT 1 FROM series ms WHERE ms.study_fk = st.id AND ms.modality = ANY(${p.add(list)}::text[]))`;
      }
      case 'sopclasses': {
        const list = value.split('\\').map((m) => m.trim()).filter(Boolean);
        if (list.length === 0) return undefined;
        return `EXISTS (SELECT 1 FROM series ms JOIN instance mi ON mi.series_fk = ms.id WHERE ms.study_fk = st.id AND mi.is_current AND mi.sop_class_uid = ANY(${p.add(list)}::text[]))`;
      }
    }
  }

  /**
   * Patient ID: the current identity, or (a single value without wildcards) one of the patient's
   * other identifiers as received, in OtherPatientIDsSequence (0010,1002, indexed) or the retired
   * OtherPatientIDs (0010,1000): a patient known elsewhere under another id is found by it.
   */
  private patientId(column: string, value: string, p: SqlParams): string | undefined {
    if (/[*?\\]/.test(value)) return matchText(column, value, p);
    const own = matchText(column.replace(/^p\./, 'o.'), value, p);
    if (!own) return undefined;
    const item = p.add(JSON.stringify([{ [tagToHex(Tag.PatientID)]: { Value: [value] } }]));
    const retired = p.add(JSON.stringify([value]));
    // One semi-join over a union of three index scans: an OR of the three on the row itself needs a
    // bitmap plan that PostgreSQL picks only once the table has statistics, and scans (reading every
    // row's attributes) until then, e.g. right after a migration's bulk load.
    return `p.id IN (SELECT o.id FROM patient o WHERE ${own}
      UNION SELECT o.id FROM patient o WHERE o.attributes -> '${tagToHex(Tag.OtherPatientIDsSequence)}' -> 'Value' @> ${item}::jsonb
      UNION SELECT o.id FROM patient o WHERE o.attributes -> '00101000' -> 'Value' @> ${retired}::jsonb)`;
  }

  /**
   * PN matching: a value with '=' matches each given group against its own column; without, any
   * group may match. Case-insensitive for the alphabetic group (PS3.4 C.2.2.2.1).
   */
  private personName(prefix: string, value: string, p: SqlParams): string | undefined {
    if (prefix === 'st.referring_physician') return matchText(prefix, value, p, true);
    const groups = value.split('=');
    const columns = [`${prefix}alphabetic`, `${prefix}ideographic`, `${prefix}phonetic`];
    if (groups.length === 1) {
      const alternatives = columns.map((c, i) => matchText(c, value, p, i === 0)).filter((c): c is string => !!c);
      return alternatives.length ? `(${alternatives.join(' OR ')})` : undefined;
    }
    const all = groups.map((g, i) => (g && columns[i] ? matchText(columns[i]!, g, p, i === 0) : undefined)).filter((c): c is string => !!c);
    return all.length ? all.join(' AND ') : undefined;
  }

  private computedColumn(tag: number, level: QueryLevel): string | undefined {
    const instancesOfStudy = 'SELECT count(*) FROM instance ci JOIN series cs ON cs.id = ci.series_fk WHERE cs.study_fk = st.id AND ci.is_current';
    switch (tag) {
      case Tag.ModalitiesInStudy:
        return RANK[level] >= RANK.STUDY ? `(SELECT array_agg(DISTINCT cm.modality) FROM series cm WHERE cm.study_fk = st.id AND cm.modality IS NOT NULL AND ${SERIES_VISIBLE('cm')}) AS modalities_in_study` : undefined;
      case Tag.SOPClassesInStudy:
        return RANK[level] >= RANK.STUDY ? `(SELECT array_agg(DISTINCT ci.sop_class_uid) FROM instance ci JOIN series cs ON cs.id = ci.series_fk WHERE cs.study_fk = st.id AND ci.is_current) AS sop_classes_in_study` : undefined;
      case Tag.NumberOfStudyRelatedSeries:
        return RANK[level] >= RANK.STUDY ? `(SELECT count(*) FROM series cs WHERE cs.study_fk = st.id AND ${SERIES_VISIBLE('cs')}) AS n_study_series` : undefined;
      case Tag.NumberOfStudyRelatedInstances:
        return RANK[level] >= RANK.STUDY ? `(${instancesOfStudy}) AS n_study_instances` : undefined;
      case Tag.NumberOfSeriesRelatedInstances:
        return RANK[level] >= RANK.SERIES ? `(SELECT count(*) FROM instance ci WHERE ci.series_fk = se.id AND ci.is_current) AS n_series_instances` : undefined;
      case Tag.NumberOfPatientRelatedStudies:
        return `(SELECT count(*) FROM study cs WHERE cs.patient_fk IN (${SAME_PATIENT}) AND ${STUDY_VISIBLE('cs')}) AS n_patient_studies`;
      case Tag.NumberOfPatientRelatedSeries:
        return `(SELECT count(*) FROM series cs JOIN study ct ON ct.id = cs.study_fk WHERE ct.patient_fk IN (${SAME_PATIENT}) AND ${SERIES_VISIBLE('cs')}) AS n_patient_series`;
      case Tag.NumberOfPatientRelatedInstances:
        return `(SELECT count(*) FROM instance ci JOIN series cs ON cs.id = ci.series_fk JOIN study ct ON ct.id = cs.study_fk WHERE ct.patient_fk IN (${SAME_PATIENT}) AND ci.is_current) AS n_patient_instances`;
      case Tag.InstanceAvailability:
        // NEARLINE (PS3.4 C.4.1.1.3.2): a blob in the Archive tier must be rehydrated before it can be read.
        if (level === 'IMAGE') return `i.access_tier = 'Archive' AS nearline`;
        if (level === 'SERIES') return `EXISTS (SELECT 1 FROM instance ai WHERE ai.series_fk = se.id AND ai.access_tier = 'Archive' AND ai.is_current) AS nearline`;
        if (level === 'STUDY') return `EXISTS (SELECT 1 FROM series aser JOIN instance ai ON ai.series_fk = aser.id WHERE aser.study_fk = st.id AND ai.access_tier = 'Archive' AND ai.is_current) AS nearline`;
        return undefined;
      default:
        return undefined;
    }
  }

  /** The attributes each match carries: the level's defaults, the matching keys, the include fields. */
  private returnTags(request: QueryRequest): number[] {
    const { level } = request;
    const tags = new Set<number>(DEFAULT_RETURN[level]);
    if (level === 'SERIES' || level === 'IMAGE') {
      tags.add(Tag.StudyInstanceUID);
      tags.add(Tag.SeriesInstanceUID);
      // Searched without a study in the path: the study's attributes come along (PS3.18 10.6.3.3).
      if (request.relational && !request.keys.has(Tag.StudyInstanceUID)) for (const t of DEFAULT_RETURN.STUDY) tags.add(t);
    }
    for (const tag of request.keys.keys()) tags.add(tag);
    for (const tag of request.includeFields) tags.add(tag);
    return [...tags];
  }

  private compose(row: Row, request: QueryRequest, returned: readonly number[]): DicomJson {
    const { level } = request;
    // An instance's own header is the base; the index's patient, study and series values win over
    // it (a merge, a correction or a moved series changes those rows, never the stored header).
    const instanceJson = typeof row['metadata'] === 'string' ? (JSON.parse(row['metadata']) as DicomJson) : undefined;
    const stored: DicomJson = { ...instanceJson, ...row.p_attrs, ...row.p_overlay, ...(row.st_attrs ?? {}), ...(row.se_attrs ?? {}) };
    const out: DicomJson = {};
    const put = (tag: number, attr: DicomJsonAttribute | undefined): void => {
      if (attr) out[tagToHex(tag)] = attr;
    };
    const tags = request.includeAll ? [...new Set([...returned, ...Object.keys(stored).map((k) => parseInt(k, 16))])] : returned;
    for (const tag of tags) {
      if (RANK[levelOf(tag)] > RANK[level] && !COMPUTED.has(tag)) continue;
      if (COMPUTED.has(tag)) {
        put(tag, this.computed(tag, row, request));
        continue;
      }
      if (level === 'IMAGE' && INSTANCE_COLUMNS.has(tag)) {
        const c = INSTANCE_COLUMNS.get(tag)!;
        const v = row[c.column];
        out[tagToHex(tag)] = v === null || v === undefined ? { vr: c.vr } : { vr: c.vr, Value: [c.vr === 'UI' ? String(v) : Number(v)] };
        continue;
      }
      const attr = stored[tagToHex(tag)];
      if (attr) put(tag, attr);
      else if (request.keys.has(tag) || DEFAULT_RETURN[level].includes(tag) || request.includeFields.includes(tag)) {
        // Asked for but absent: an empty attribute says "known to be empty" (C-FIND returns every key).
        put(tag, { vr: lookupTag(tag)?.vr ?? implicitVr(tag) });
      }
    }
    if (level !== 'PATIENT') {
      if (row.study_uid) out[tagToHex(Tag.StudyInstanceUID)] = { vr: 'UI', Value: [row.study_uid] };
      if (row.series_uid) out[tagToHex(Tag.SeriesInstanceUID)] = { vr: 'UI', Value: [row.series_uid] };
    }
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  private computed(tag: number, row: Row, request: QueryRequest): DicomJsonAttribute | undefined {
    const count = (key: string, vr = 'IS'): DicomJsonAttribute => ({ vr, Value: [Number(row[key] ?? 0)] });
    switch (tag) {
      case Tag.ModalitiesInStudy: {
        const list = (row['modalities_in_study'] as string[] | null) ?? [];
        return list.length ? { vr: 'CS', Value: list } : { vr: 'CS' };
      }
      case Tag.SOPClassesInStudy: {
        const list = (row['sop_classes_in_study'] as string[] | null) ?? [];
        return list.length ? { vr: 'UI', Value: list } : { vr: 'UI' };
      }
      case Tag.NumberOfStudyRelatedSeries:
        return row['n_study_series'] === undefined ? undefined : count('n_study_series');
      case Tag.NumberOfStudyRelatedInstances:
        return row['n_study_instances'] === undefined ? undefined : count('n_study_instances');
      case Tag.NumberOfSeriesRelatedInstances:
        return row['n_series_instances'] === undefined ? undefined : count('n_series_instances');
      case Tag.NumberOfPatientRelatedStudies:
        return count('n_patient_studies');
      case Tag.NumberOfPatientRelatedSeries:
        return count('n_patient_series');
      case Tag.NumberOfPatientRelatedInstances:
        return count('n_patient_instances');
      case Tag.InstanceAvailability:
        return { vr: 'CS', Value: [row['nearline'] === true ? 'NEARLINE' : 'ONLINE'] };
      case Tag.RetrieveAETitle:
        return { vr: 'AE', Value: [this.config.dicom.aet] };
      case Tag.QueryRetrieveLevel:
        return { vr: 'CS', Value: [request.level] };
      case Tag.RetrieveURL: {
        if (!request.retrieveBase || request.level === 'PATIENT') return undefined;
        let url = `${request.retrieveBase}/studies/${row.study_uid}`;
        if (request.level === 'SERIES' || request.level === 'IMAGE') url += `/series/${row.series_uid}`;
        if (request.level === 'IMAGE') url += `/instances/${String(row['sop_instance_uid'])}`;
        return { vr: 'UR', Value: [url] };
      }
      default:
        return undefined;
    }
  }
}
