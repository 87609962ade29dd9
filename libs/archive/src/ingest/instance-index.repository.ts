import { Injectable } from '@nestjs/common';
import { tagToHex } from '#vna/dicom';
import { IngestHookRegistry } from './ingest-hooks.js';
import type { SqlRunner } from '#vna/persistence';
import type { IndexRecord } from './index-record.js';
import type { SpooledObject } from './spool-writer.js';

export interface InstanceSource {
  readonly kind: 'dimse' | 'stow' | 'import';
  /** Calling AE title, or the API key name for STOW. */
  readonly aet?: string;
  /** The import batch a migration named (STOW-RS X-VNA-Import-Batch), for kind 'import'. */
  readonly batch?: string;
}

export type StoreOutcome =
  | { readonly kind: 'stored'; readonly instanceId: string; readonly studyId: string; readonly seriesId: string }
  | { readonly kind: 'new-version'; readonly instanceId: string; readonly studyId: string; readonly seriesId: string; readonly version: number }
  | { readonly kind: 'duplicate'; readonly instanceId: string; readonly studyId: string; readonly seriesId: string };

interface IdRow {
  id: string;
}

/**
 * The fast path met an object whose SOP Instance UID has earlier rows, none current (an instance
 * an IOCM rejection note hid), or one a guard's fast path check flagged: it inserted nothing, and
 * the full path, where the guards see it, takes the object.
 */
export class EarlierRowsError extends Error {
  constructor() {
    super('the SOP Instance UID has earlier, hidden rows');
    this.name = 'EarlierRowsError';
  }
}

/** Where the top-level bulk values other than pixel data are in the file (for their BulkDataURIs). */
function bulkElements(spooled: SpooledObject): string | null {
  if (!spooled.bulkAddressable) return null;
  const out: Record<string, [number, number]> = {};
  for (const el of spooled.dataset.elements.values()) {
    if (el.bulk && el.tag !== 0x7fe00010 && !el.undefinedLength) out[tagToHex(el.tag)] = [el.offset, el.length];
  }
  return Object.keys(out).length ? JSON.stringify(out) : null;
}

/** Writes the index rows of one received object. Runs inside the caller's transaction. */
@Injectable()
export class InstanceIndexRepository {
  constructor(private readonly hooks: IngestHookRegistry) {}

  /**
   * Insert-or-get without locking the existing row (ON CONFLICT DO NOTHING takes no row lock), so
   * parallel associations storing into one study do not queue behind each other.
   */
  private async upsertId(tx: SqlRunner, insertSql: string, params: unknown[], selectSql: string, selectParams: unknown[]): Promise<{ id: string; created: boolean }> {
    const rows: (IdRow & { created: boolean })[] = await tx.query(
      `WITH ins AS (${insertSql} ON CONFLICT DO NOTHING RETURNING id)
       SELECT id, true AS created FROM ins UNION ALL (SELECT id, false AS created FROM (${selectSql}) AS existing) LIMIT 1`,
      params,
    );
    if (rows[0]) return { id: String(rows[0].id), created: rows[0].created };
    // A concurrent transaction inserted it after this statement's snapshot: read it now.
    const again: IdRow[] = await tx.query(selectSql, selectParams);
    if (!again[0]) throw new Error('index row vanished during upsert');
    return { id: String(again[0].id), created: false };
  }

  /**
   * Series already in the index, by Series Instance UID: most objects belong to a series that exists,
   * and for those the patient, study and series rows need no statement at all. Entries go when a
   * transaction that used them fails (the series may have been removed meanwhile).
   */
  private readonly knownSeries = new Map<string, { seriesId: string; studyId: string }>();

  forgetSeries(seriesUid: string): void {
    this.knownSeries.delete(seriesUid);
  }

  private rememberSeries(seriesUid: string, ids: { seriesId: string; studyId: string }): void {
    if (this.knownSeries.size >= 10_000) this.knownSeries.delete(this.knownSeries.keys().next().value!);
    this.knownSeries.set(seriesUid, ids);
  }

  private async hierarchy(tx: SqlRunner, record: IndexRecord): Promise<{ studyId: string; seriesId: string }> {
    const known = this.knownSeries.get(record.series.seriesUid);
    if (known) return known;
    const { patient, study, series } = record;
    const patientRow = await this.upsertId(
      tx,
      `INSERT INTO patient (patient_id, issuer, current_patient_id, current_issuer, name_alphabetic, name_ideographic, name_phonetic, birth_date, sex, attributes)
       VALUES ($1, $2, $1, $2, $3, $4, $5, $6, $7, $8::jsonb)`,
      [patient.patientId, patient.issuer, patient.name.Alphabetic ?? '', patient.name.Ideographic ?? '', patient.name.Phonetic ?? '', patient.birthDate, patient.sex, JSON.stringify(patient.attributes)],
      `SELECT id FROM patient WHERE patient_id = $1 AND issuer = $2`,
      [patient.patientId, patient.issuer],
    );
    const patientId = patientRow.id;
    const studyRow = await this.upsertId(
      tx,
      `INSERT INTO study (study_uid, patient_fk, study_date, study_time, accession_number, study_id, description, referring_physician, attributes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)`,
      [study.studyUid, patientId, study.studyDate, study.studyTime, study.accessionNumber, study.studyId, study.description, study.referringPhysician, JSON.stringify(study.attributes)],
      `SELECT id FROM study WHERE study_uid = $1`,
      [study.studyUid],
    );
    const studyId = studyRow.id;
    const seriesRow = await this.upsertId(
      tx,
      `INSERT INTO series (series_uid, study_fk, modality, series_number, description, body_part, performed_start_date, performed_start_time, attributes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)`,
      [series.seriesUid, studyId, series.modality, series.seriesNumber, series.description, series.bodyPart, series.performedStartDate, series.performedStartTime, JSON.stringify(series.attributes)],
      `SELECT id FROM series WHERE series_uid = $1`,
      [series.seriesUid],
    );
    const seriesId = seriesRow.id;
    // Features that follow new patients, studies and series (reconciliation with the registry and
    // orders) act here, in the same transaction, before the object is acknowledged.
    for (const hook of this.hooks.all()) {
      await hook(tx, {
        record,
        patientRowId: patientId,
        studyRowId: studyId,
        seriesRowId: seriesId,
        created: { patient: patientRow.created, study: studyRow.created, series: seriesRow.created },
      });
    }
    const ids = { studyId, seriesId };
    this.rememberSeries(series.seriesUid, ids);
    return ids;
  }

  /**
   * The common case in ONE statement, sent with its COMMIT where the runner can (`queryAndCommit`):
   * a new object (no row for its SOP Instance UID) of a series the index already has. The instance
   * row and the messages that follow it (`follow`: the outbox rows) are one atomic statement. Undefined
   * when the case does not apply (an unknown series, or a current row exists: a duplicate or a new
   * version), for `store` in a transaction to handle.
   */
  async storeNewInKnownSeries(
    run: SqlRunner,
    record: IndexRecord,
    spooled: SpooledObject,
    source: InstanceSource,
    spoolNode: string,
    follow: (payloadsSql: string, firstParam: number) => { cte: string; select: string; params: unknown[] },
  ): Promise<StoreOutcome | undefined> {
    const known = this.knownSeries.get(record.series.seriesUid);
    if (!known || this.hooks.needsFullPath(record)) return undefined;
    const insert = instanceInsert(record, spooled, source, spoolNode, known.seriesId, 1);
    const then = follow(`SELECT jsonb_build_object('instanceId', id::text) AS payload FROM ins`, insert.params.length + 1);
    // Any row of this UID (the statement's snapshot does not see its own insert), or a guard's
    // check, sends the object to the full path; the row is then not inserted, so the statement
    // can go out with its COMMIT (one round trip, where the runner can pipeline).
    const earlier = `EXISTS (SELECT 1 FROM instance x WHERE x.sop_instance_uid = $1) OR ${this.hooks.fastPathChecks()}`;
    const sql = `WITH ins AS (INSERT INTO instance (${insert.columns}) SELECT ${insert.values} WHERE NOT (${earlier})
                      ON CONFLICT (sop_instance_uid) WHERE is_current DO NOTHING RETURNING id),
       ${then.cte}
       SELECT (SELECT id FROM ins) AS id, ${then.select} AS woken, ${earlier} AS earlier`;
    const params = [...insert.params, ...then.params];
    const rows: { id: string | null; earlier: boolean }[] = run.queryAndCommit ? await run.queryAndCommit(sql, params) : await run.query(sql, params);
    if (rows[0]?.earlier) throw new EarlierRowsError();
    const id = rows[0]?.id;
    if (!id) return undefined;
    return { kind: 'stored', instanceId: String(id), studyId: known.studyId, seriesId: known.seriesId };
  }

  async store(tx: SqlRunner, record: IndexRecord, spooled: SpooledObject, source: InstanceSource, spoolNode: string): Promise<StoreOutcome> {
    const { study, instance } = record;
    const { studyId, seriesId } = await this.hierarchy(tx, record);

    // One writer per SOP Instance UID at a time (the advisory lock, held until commit), so concurrent
    // versions of one object queue up instead of colliding on the "one current row" index. The lock
    // is its own statement: the next one then reads with a snapshot taken after the wait.
    await tx.query(`SELECT pg_advisory_xact_lock(7341, hashtext($1))`, [instance.sopInstanceUid]);
    for (const guard of this.hooks.guards()) await guard.check(tx, { record, sha256: spooled.sha256, source });
    const existing: { id: string; sha256: Buffer; version: number }[] = await tx.query(
      `SELECT id, sha256, version FROM instance WHERE sop_instance_uid = $1 AND is_current`,
      [instance.sopInstanceUid],
    );
    const current = existing[0];
    if (current && Buffer.from(current.sha256).equals(spooled.sha256)) {
      return { kind: 'duplicate', instanceId: String(current.id), studyId, seriesId };
    }
    let version = 1;
    if (current) {
      version = current.version + 1;
      await tx.query(`UPDATE instance SET is_current = false WHERE id = $1`, [current.id]);
    }
    const insert = instanceInsert(record, spooled, source, spoolNode, seriesId, version);
    const rows: IdRow[] = await tx.query(`INSERT INTO instance (${insert.columns}) VALUES (${insert.values}) RETURNING id`, insert.params);
    const instanceId = String(rows[0]!.id);
    if (current) {
      await tx.query(
        `INSERT INTO archive_event (kind, actor, study_uid, sop_instance_uid, detail) VALUES ('instance.new-version', $1, $2, $3, $4::jsonb)`,
        [source.aet ?? source.kind, study.studyUid, instance.sopInstanceUid, JSON.stringify({ version, previousInstanceId: String(current.id), sha256: spooled.sha256.toString('hex') })],
      );
      return { kind: 'new-version', instanceId, studyId, seriesId, version };
    }
    return { kind: 'stored', instanceId, studyId, seriesId };
  }
}

/** The column list and the values of an instance row (for VALUES or a SELECT list), with its parameters. */
function instanceInsert(
  record: IndexRecord,
  spooled: SpooledObject,
  source: InstanceSource,
  spoolNode: string,
  seriesId: string,
  version: number,
): { columns: string; values: string; params: unknown[] } {
  const { instance } = record;
  // Offsets inside deflated data do not point into the file, so such bulk data is not addressable.
  const pixel = spooled.bulkAddressable ? spooled.dataset.get(0x7fe00010) : undefined;
  return {
    columns: `sop_instance_uid, series_fk, sop_class_uid, instance_number, transfer_syntax_uid, version,
         size_bytes, sha256, dataset_offset, pixel_offset, pixel_length, fragments, bulk_elements, rows, columns, bits_allocated,
         samples_per_pixel, number_of_frames, storage_state, spool_node, spool_path, source_aet, source_kind, metadata,
         coerced, received, coercion_rules, ingest_warnings, spool_boot`,
    values: `$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13::jsonb, $14, $15, $16, $17, $18, 'spooled', $19, $20, $21, $22, $23,
         $24::jsonb, $25::jsonb, $26::text[], $27::text[], $28`,
    params: [
      instance.sopInstanceUid,
      seriesId,
      instance.sopClassUid,
      instance.instanceNumber,
      spooled.transferSyntaxUid,
      version,
      spooled.size,
      spooled.sha256,
      spooled.datasetOffset,
      pixel ? pixel.offset : null,
      pixel ? pixel.length : null,
      pixel?.fragments ? JSON.stringify(pixel.fragments.map((f) => [f.offset, f.length])) : null,
      bulkElements(spooled),
      instance.rows,
      instance.columns,
      instance.bitsAllocated,
      instance.samplesPerPixel,
      instance.numberOfFrames,
      spoolNode,
      spooled.path,
      source.aet ?? null,
      source.kind,
      JSON.stringify(instance.metadata),
      // What coercion changed: laid over on the way out (coerced) and kept as received (received).
      record.normalization && Object.keys(record.normalization.overlay).length ? JSON.stringify(record.normalization.overlay) : null,
      record.normalization ? JSON.stringify(record.normalization.received) : null,
      record.normalization ? record.normalization.rules : null,
      record.warnings.length ? record.warnings : null,
      spooled.boot,
    ],
  };
}
