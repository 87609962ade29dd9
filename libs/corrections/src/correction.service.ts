import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { generateUid, isValidUid, Tag, tagToHex } from '#vna/dicom';
import { autocommit, type SqlRunner, withTransaction } from '#vna/persistence';
import type { Correction, CorrectionActor, CorrectionKind, PatientRow, RowStates, SeriesState, StudyState } from './correction.model.js';
import { CorrectionRepository } from './correction.repository.js';
import { CorrectionError } from './corrections.errors.js';
import { canonical, movedSeriesOverlay } from './moved-series.js';
import { type AttributeChange, parseAttributeChanges } from './study-attributes.js';

/** A patient as the index knows them now (PatientID and IssuerOfPatientID after updates and merges). */
export interface PatientTarget {
  readonly patientId: string;
  readonly issuer?: string;
}

const COLUMN_FIELD: Record<AttributeChange['column'], keyof StudyState> = {
  description: 'description',
  accession_number: 'accessionNumber',
  study_date: 'studyDate',
  study_time: 'studyTime',
  referring_physician: 'referringPhysician',
  study_id: 'studyId',
};

const STUDY_UID = tagToHex(Tag.StudyInstanceUID);

function uidOrRefuse(uid: unknown, what: string): string {
  if (typeof uid !== 'string' || !isValidUid(uid)) throw new CorrectionError('invalid', `${what} is not a valid UID`);
  return uid;
}

/**
 * Corrections of the index by HIM (ARCHITECTURE.md invariant 2: originals are immutable): study-level
 * attributes, a series moved to another study or patient, a study split or studies joined. Each
 * changes study and series rows only, in one transaction, and is recorded with who, when, why and
 * the exact row states before and after; query reads the rows, retrieve lays them over the stored
 * objects (the egress overlay), so both reflect a correction at once. An undo puts the rows back
 * exactly, if nothing changed them since.
 */
@Injectable()
export class CorrectionService {
  private readonly logger = new Logger('Corrections');

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly repo: CorrectionRepository,
  ) {}

  /** Changes study-level attributes (StudyDescription, AccessionNumber, StudyDate, StudyTime, ReferringPhysicianName, StudyID). */
  async updateStudy(studyUid: string, attributes: unknown, reason: string, actor: CorrectionActor): Promise<Correction> {
    uidOrRefuse(studyUid, 'the Study Instance UID');
    const changes = parseAttributeChanges(attributes);
    return this.record('study-attributes', { studyUid, attributes }, reason, actor, async (tx) => {
      const study = await this.oneStudy(tx, studyUid);
      const next: Record<string, unknown> = { ...study, attributes: { ...study.attributes }, overlay: { ...study.overlay } };
      for (const c of changes) {
        next[COLUMN_FIELD[c.column]] = c.columnValue ?? (c.column === 'referring_physician' ? '' : null);
        (next['attributes'] as Record<string, unknown>)[c.key] = c.attribute;
        (next['overlay'] as Record<string, unknown>)[c.key] = c.attribute;
      }
      const after = next as unknown as StudyState;
      const unchanged = changes.every((c) => canonical(study.attributes[c.key] ?? { vr: c.attribute.vr }) === canonical(c.attribute));
      if (unchanged) throw new CorrectionError('invalid', 'the study already has these values: nothing to correct');
      await this.repo.writeStudies(tx, [after]);
      return { before: { studies: [study], series: [], created: [] }, after: { studies: [after], series: [], created: [] }, studyUids: [studyUid] };
    });
  }

  /** Moves a series into another study, or (to a patient) into a new study of that patient. */
  async moveSeries(seriesUid: string, target: { studyUid?: string; patient?: PatientTarget }, reason: string, actor: CorrectionActor): Promise<Correction> {
    uidOrRefuse(seriesUid, 'the Series Instance UID');
    if ((target.studyUid === undefined) === (target.patient === undefined)) throw new CorrectionError('invalid', 'name either a target study or a target patient');
    if (target.studyUid !== undefined) uidOrRefuse(target.studyUid, 'the target Study Instance UID');
    return this.record('move-series', { seriesUid, ...target }, reason, actor, async (tx) => {
      const [series] = await this.repo.seriesByUid(tx, [seriesUid]);
      if (!series) throw new CorrectionError('not-found', `no series ${seriesUid}`);
      const [source] = await this.repo.studiesById(tx, [series.studyFk]);
      if (!source) throw new CorrectionError('not-found', `no study for series ${seriesUid}`);
      let destination: StudyState;
      let created: string[] = [];
      if (target.studyUid !== undefined) {
        if (target.studyUid === source.studyUid) throw new CorrectionError('invalid', `series ${seriesUid} is already in study ${source.studyUid}`);
        destination = await this.oneStudy(tx, target.studyUid);
      } else {
        const patient = await this.onePatient(tx, target.patient!);
        if (patient.id === source.patientFk) throw new CorrectionError('invalid', 'the series already belongs to that patient (split its study to give it a study of its own)');
        destination = await this.newStudy(tx, source, patient.id);
        created = [destination.id];
      }
      const moved = await this.moveAll(tx, [series], source, destination);
      return {
        before: { studies: [], series: [series], created: [] },
        after: { studies: [], series: moved, created },
        studyUids: [source.studyUid, destination.studyUid],
        result: { studyUid: destination.studyUid },
      };
    });
  }

  /** Moves some series of a study into a new study (new Study Instance UID), of the same patient or of `patient`. */
  async splitStudy(studyUid: string, seriesUids: readonly string[], patient: PatientTarget | undefined, reason: string, actor: CorrectionActor): Promise<Correction> {
    uidOrRefuse(studyUid, 'the Study Instance UID');
    if (!Array.isArray(seriesUids) || seriesUids.length === 0) throw new CorrectionError('invalid', 'name the series that go to the new study');
    for (const s of seriesUids) uidOrRefuse(s, 'a Series Instance UID');
    if (new Set(seriesUids).size !== seriesUids.length) throw new CorrectionError('invalid', 'a series is named twice');
    return this.record('split-study', { studyUid, seriesUids, ...(patient ? { patient } : {}) }, reason, actor, async (tx) => {
      const source = await this.oneStudy(tx, studyUid);
      const all = await this.repo.seriesOfStudies(tx, [source.id]);
      const chosen = all.filter((s) => seriesUids.includes(s.seriesUid));
      const missing = seriesUids.filter((u) => !chosen.some((s) => s.seriesUid === u));
      if (missing.length) throw new CorrectionError('not-found', `not series of study ${studyUid}: ${missing.join(', ')}`);
      if (chosen.length === all.length) throw new CorrectionError('invalid', 'a split leaves at least one series in the study');
      const patientFk = patient ? (await this.onePatient(tx, patient)).id : source.patientFk;
      const destination = await this.newStudy(tx, source, patientFk);
      const moved = await this.moveAll(tx, chosen, source, destination);
      return {
        before: { studies: [], series: chosen, created: [] },
        after: { studies: [], series: moved, created: [destination.id] },
        studyUids: [source.studyUid, destination.studyUid],
        result: { studyUid: destination.studyUid },
      };
    });
  }

  /** Moves every series of the `sources` studies into `target` (one patient's studies only). */
  async joinStudies(targetUid: string, sourceUids: readonly string[], reason: string, actor: CorrectionActor): Promise<Correction> {
    uidOrRefuse(targetUid, 'the target Study Instance UID');
    if (!Array.isArray(sourceUids) || sourceUids.length === 0) throw new CorrectionError('invalid', 'name the studies to join into the target');
    for (const s of sourceUids) uidOrRefuse(s, 'a Study Instance UID');
    if (new Set(sourceUids).size !== sourceUids.length) throw new CorrectionError('invalid', 'a study is named twice');
    if (sourceUids.includes(targetUid)) throw new CorrectionError('invalid', 'a study cannot be joined into itself');
    return this.record('join-studies', { studyUid: targetUid, sourceStudyUids: sourceUids }, reason, actor, async (tx) => {
      const studies = await this.repo.studiesByUid(tx, [targetUid, ...sourceUids]);
      const missing = [targetUid, ...sourceUids].filter((u) => !studies.some((s) => s.studyUid === u));
      if (missing.length) throw new CorrectionError('not-found', `no study ${missing.join(', ')}`);
      const target = studies.find((s) => s.studyUid === targetUid)!;
      const sources = studies.filter((s) => s.studyUid !== targetUid);
      const patients = await this.repo.patients(tx, [...new Set(studies.map((s) => s.patientFk))]);
      const identity = (fk: string): string => {
        const p = patients.find((x) => x.id === fk)!;
        return `${p.currentIssuer}\u0000${p.currentPatientId}`;
      };
      if (sources.some((s) => identity(s.patientFk) !== identity(target.patientFk))) {
        throw new CorrectionError('invalid', 'the studies belong to different patients: move their series to the patient first');
      }
      const series = await this.repo.seriesOfStudies(tx, sources.map((s) => s.id));
      if (series.length === 0) throw new CorrectionError('invalid', 'the studies to join hold no series');
      const moved: SeriesState[] = [];
      for (const source of sources) moved.push(...(await this.moveAll(tx, series.filter((s) => s.studyFk === source.id), source, target)));
      return { before: { studies: [], series, created: [] }, after: { studies: [], series: moved, created: [] }, studyUids: [targetUid, ...sourceUids] };
    });
  }

  /** Puts the rows back exactly as they were before the correction, if no one changed them since. */
  async undo(id: string, reason: string, actor: CorrectionActor): Promise<Correction> {
    const undone = await withTransaction(this.db, async (tx) => {
      const c = await this.repo.lockWithStates(tx, id);
      if (!c) throw new CorrectionError('not-found', `no correction ${id}`);
      if (c.undoneAt) throw new CorrectionError('conflict', `correction ${id} was already undone`);
      const studies = await this.repo.studiesById(tx, c.after.studies.map((s) => s.id));
      const series = await this.repo.seriesById(tx, c.after.series.map((s) => s.id));
      if (canonical(sortById(studies)) !== canonical(sortById(c.after.studies)) || canonical(sortById(series)) !== canonical(sortById(c.after.series))) {
        throw new CorrectionError('conflict', `the rows correction ${id} changed were changed again since (undo the later correction or merge first)`);
      }
      await this.repo.writeStudies(tx, c.before.studies);
      await this.repo.writeSeries(tx, c.before.series);
      if (!(await this.repo.deleteEmptyStudies(tx, c.after.created))) {
        throw new CorrectionError('conflict', `the study correction ${id} created holds objects or is referred to (an order link) now: it cannot be removed`);
      }
      return this.repo.markUndone(tx, id, actor.user, reason);
    });
    this.logger.log(`correction ${id} (${undone.kind}) undone by ${actor.user}`);
    return undone;
  }

  async get(id: string): Promise<Correction> {
    const c = await this.repo.get(autocommit(this.db), id);
    if (!c) throw new CorrectionError('not-found', `no correction ${id}`);
    return c;
  }

  list(q: { studyUid?: string; kind?: CorrectionKind; limit: number; offset: number }): Promise<Correction[]> {
    return this.repo.list(autocommit(this.db), q);
  }

  private async record(
    kind: CorrectionKind,
    request: Record<string, unknown>,
    reason: string,
    actor: CorrectionActor,
    work: (tx: SqlRunner) => Promise<{ before: RowStates; after: RowStates; studyUids: string[]; result?: Record<string, unknown> }>,
  ): Promise<Correction> {
    const correction = await withTransaction(this.db, async (tx) => {
      const { before, after, studyUids, result } = await work(tx);
      return this.repo.insert(tx, { kind, actor: actor.user, apiKey: actor.apiKey, reason, request: { ...request, ...result }, studyUids: [...new Set(studyUids)], before, after });
    });
    this.logger.log(`correction ${correction.id} (${kind}) by ${actor.user} on ${correction.studyUids.join(', ')}`);
    return correction;
  }

  private async oneStudy(tx: SqlRunner, studyUid: string): Promise<StudyState> {
    const [study] = await this.repo.studiesByUid(tx, [studyUid]);
    if (!study) throw new CorrectionError('not-found', `no study ${studyUid}`);
    return study;
  }

  private async onePatient(tx: SqlRunner, target: PatientTarget): Promise<PatientRow> {
    if (typeof target.patientId !== 'string' || target.patientId === '') throw new CorrectionError('invalid', 'the target patient needs a patientId');
    const found = await this.repo.patientsByIdentity(tx, target.patientId, target.issuer);
    const where = target.issuer === undefined ? '' : ` (issuer "${target.issuer}")`;
    if (found.length === 0) throw new CorrectionError('not-found', `no patient ${target.patientId}${where} in the index`);
    if (found.length > 1) throw new CorrectionError('invalid', `patient ${target.patientId} exists under several issuers (${found.map((p) => p.currentIssuer || '""').join(', ')}): name the issuer`);
    return found[0]!;
  }

  /** A new study row like `source` (its attributes and corrections), with a new Study Instance UID, for `patientFk`. */
  private async newStudy(tx: SqlRunner, source: StudyState, patientFk: string): Promise<StudyState> {
    const studyUid = generateUid();
    const fields = { ...source, studyUid, patientFk, attributes: { ...source.attributes, [STUDY_UID]: { vr: 'UI', Value: [studyUid] } } };
    const id = await this.repo.insertStudy(tx, fields);
    return { ...fields, id };
  }

  /** The series' new rows in `destination` (written), each with what it carries on its way out. */
  private async moveAll(tx: SqlRunner, series: readonly SeriesState[], source: StudyState, destination: StudyState): Promise<SeriesState[]> {
    const patients = await this.repo.patients(tx, [...new Set([source.patientFk, destination.patientFk])]);
    const patientOf = (fk: string): PatientRow => patients.find((p) => p.id === fk)!;
    const moved = series.map((s) => ({
      ...s,
      studyFk: destination.id,
      overlay: movedSeriesOverlay(s.overlay, { study: source, patient: patientOf(source.patientFk) }, { study: destination, patient: patientOf(destination.patientFk) }),
    }));
    await this.repo.writeSeries(tx, moved);
    return moved;
  }
}

function sortById<T extends { id: string }>(rows: readonly T[]): T[] {
  return [...rows].sort((a, b) => Number(a.id) - Number(b.id));
}
