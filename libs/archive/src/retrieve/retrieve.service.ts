import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { pipeline, type Readable, Transform } from 'node:stream';
import type { DataSource } from 'typeorm';
import { lookupTransferSyntax, tagToHex } from '#vna/dicom';
import { JobHandlerRegistry } from '#vna/jobs';
import { BULK_PLACEHOLDER_PREFIX } from '../ingest/index-record.js';
import { EgressOverlay } from './egress-overlay.js';
import { INSTANCE_ROW_COLUMNS, INSTANCE_ROW_FROM, type InstanceRow, OVERLAY_SQL, toInstanceRow } from './instance-row.js';
import { ObjectReaderService, ObjectUnavailableError } from './object-reader.service.js';
import { RetrieveHookRegistry } from './retrieve-hooks.js';

export interface RetrieveScope {
  readonly studyUid: string;
  readonly seriesUid?: string;
  readonly sopInstanceUid?: string;
}

/** The request asks for something the object does not have (a frame past the last, say). */
export class RetrieveRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetrieveRequestError';
  }
}

/** Frames of encapsulated data are readable when there is one fragment per frame (or a single frame). */
export class FramesNotAvailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FramesNotAvailableError';
  }
}

/** Rebuild a series' WADO-RS metadata document (derived, debounced per series). */
export const SERIES_METADATA_TOPIC = 'series.metadata';

/** WADO-RS, C-MOVE and C-GET read objects through here (PS3.18 10.4, PS3.4 C.4.2-C.4.3). */
@Injectable()
export class RetrieveService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly reader: ObjectReaderService,
    private readonly overlay: EgressOverlay,
    registry: JobHandlerRegistry,
    private readonly hooks: RetrieveHookRegistry,
  ) {
    registry.register(SERIES_METADATA_TOPIC, (payload) => this.prebuildSeriesMetadata(String(payload['seriesId'])));
  }

  /** Current instances in scope, in series and instance number order. */
  async instances(scope: RetrieveScope): Promise<InstanceRow[]> {
    const params: unknown[] = [scope.studyUid];
    let where = 'st.study_uid = $1 AND i.is_current';
    if (scope.seriesUid) {
      params.push(scope.seriesUid);
      where += ` AND se.series_uid = $${params.length}`;
    }
    if (scope.sopInstanceUid) {
      params.push(scope.sopInstanceUid);
      where += ` AND i.sop_instance_uid = $${params.length}`;
    }
    const rows = (await this.db.query(
      `SELECT ${INSTANCE_ROW_COLUMNS} FROM ${INSTANCE_ROW_FROM}
        WHERE ${where} ORDER BY se.series_number NULLS LAST, se.id, i.instance_number NULLS LAST, i.id`,
      params,
    )) as Record<string, unknown>[];
    if (rows.length > 0) this.hooks.accessed([scope.studyUid]);
    return rows.map(toInstanceRow);
  }

  /**
   * Refuses, before anything is sent, a retrieve of objects the index knows to be in the Archive
   * tier (a response already streaming could only be cut short): their rehydration starts, and the
   * caller is told why and when to come back (WADO-RS 503 with Retry-After).
   */
  async assertReadable(instances: readonly InstanceRow[]): Promise<void> {
    const archived = instances.filter((i) => i.accessTier === 'Archive' && i.storageState === 'stored');
    if (archived.length === 0) return;
    const outcome = await this.hooks.archived(archived);
    if (outcome.readable) return;
    throw new ObjectUnavailableError(outcome.message, outcome.retryAfterSeconds, 'archived');
  }

  /** Instances by SOP Instance UID (C-MOVE/C-GET at IMAGE level may name them without a study). */
  async instancesByUid(sopInstanceUids: readonly string[]): Promise<InstanceRow[]> {
    const rows = (await this.db.query(
      `SELECT ${INSTANCE_ROW_COLUMNS} FROM ${INSTANCE_ROW_FROM}
        WHERE i.sop_instance_uid = ANY($1::text[]) AND i.is_current ORDER BY i.id`,
      [sopInstanceUids],
    )) as Record<string, unknown>[];
    const instances = rows.map(toInstanceRow);
    if (instances.length > 0) this.hooks.accessed([...new Set(instances.map((i) => i.studyUid))]);
    return instances;
  }

  /** The object as it leaves for `destination`: stored bytes with the egress overlay applied. */
  async open(instance: InstanceRow, destination: string): Promise<Readable> {
    return this.overlay.apply(instance, await this.reader.open(instance), destination, true);
  }

  /**
   * The stored bytes exactly as received, without the egress overlay (HIM and forensic use; the
   * caller checks the admin role and records the access).
   */
  async openAsReceived(instance: InstanceRow): Promise<Readable> {
    return this.reader.open(instance);
  }

  /** The dataset alone (no meta header), as DIMSE sends it. */
  async openDataset(instance: InstanceRow, destination: string): Promise<Readable> {
    const stream = await this.reader.open(instance, { start: instance.datasetOffset, end: instance.sizeBytes - 1 });
    return this.overlay.apply(instance, stream, destination, false);
  }

  /**
   * WADO-RS metadata (PS3.18 10.4.1.1.2): the instances' DICOM JSON, series by series. A series'
   * document is built once from the instance rows and kept until the series changes.
   */
  async *metadata(scope: RetrieveScope, baseUrl: string): AsyncGenerator<string> {
    if (scope.sopInstanceUid) {
      const rows = (await this.db.query(
        `SELECT i.metadata, ${OVERLAY_SQL} AS overlay FROM instance i JOIN series se ON se.id = i.series_fk JOIN study st ON st.id = se.study_fk JOIN patient p ON p.id = st.patient_fk
          WHERE st.study_uid = $1 AND ($2::text IS NULL OR se.series_uid = $2) AND i.sop_instance_uid = $3 AND i.is_current`,
        [scope.studyUid, scope.seriesUid ?? null, scope.sopInstanceUid],
      )) as { metadata: string; overlay: Record<string, unknown> }[];
      const row = rows[0];
      if (!row) return;
      const metadata = Object.keys(row.overlay).length ? JSON.stringify(sortedKeys({ ...(JSON.parse(row.metadata) as Record<string, unknown>), ...row.overlay })) : row.metadata;
      yield withBase(metadata, baseUrl);
      return;
    }
    const series = (await this.db.query(
      `SELECT se.id, count(i.id) AS n, max(i.id) AS last
         FROM series se JOIN study st ON st.id = se.study_fk JOIN instance i ON i.series_fk = se.id AND i.is_current
        WHERE st.study_uid = $1 AND ($2::text IS NULL OR se.series_uid = $2)
        GROUP BY se.id, se.series_number ORDER BY se.series_number NULLS LAST, se.id`,
      [scope.studyUid, scope.seriesUid ?? null],
    )) as { id: string; n: string; last: string }[];
    let first = true;
    for (const s of series) {
      const doc = await this.seriesDocument(s.id, `${s.n}:${s.last}`);
      if (doc.length === 0) continue;
      yield (first ? '' : ',') + withBase(doc, baseUrl);
      first = false;
    }
  }

  /** Builds a series' metadata document ahead of the first request (after the series changed). */
  async prebuildSeriesMetadata(seriesId: string): Promise<void> {
    const [s] = (await this.db.query(
      `SELECT count(id) AS n, max(id) AS last FROM instance WHERE series_fk = $1 AND is_current`,
      [seriesId],
    )) as { n: string; last: string | null }[];
    if (!s?.last) return;
    await this.seriesDocument(seriesId, `${s.n}:${s.last}`);
  }

  /** Whether any current instance is in scope (404 otherwise). */
  async exists(scope: RetrieveScope): Promise<boolean> {
    const rows = (await this.db.query(
      `SELECT 1 FROM instance i JOIN series se ON se.id = i.series_fk JOIN study st ON st.id = se.study_fk
        WHERE st.study_uid = $1 AND ($2::text IS NULL OR se.series_uid = $2) AND ($3::text IS NULL OR i.sop_instance_uid = $3) AND i.is_current LIMIT 1`,
      [scope.studyUid, scope.seriesUid ?? null, scope.sopInstanceUid ?? null],
    )) as unknown[];
    return rows.length > 0;
  }

  /**
   * A series' metadata document: its instances' DICOM JSON with the egress overlay laid over (the
   * patient's current attributes, study corrections, a moved series' study: as retrieved objects
   * carry them). Kept until the series or its overlay changes.
   */
  private async seriesDocument(seriesId: string, signature: string): Promise<string> {
    const [patient] = (await this.db.query(
      `SELECT ${OVERLAY_SQL}::text AS overlay FROM series se JOIN study st ON st.id = se.study_fk JOIN patient p ON p.id = st.patient_fk WHERE se.id = $1`,
      [seriesId],
    )) as { overlay: string }[];
    const overlayText = patient?.overlay ?? '{}';
    const fullSignature = `${signature}:${createHash('sha1').update(overlayText).digest('hex').slice(0, 16)}`;
    const cached = (await this.db.query(`SELECT document FROM series_metadata WHERE series_fk = $1 AND signature = $2`, [seriesId, fullSignature])) as {
      document: string;
    }[];
    if (cached[0]) return cached[0].document;
    const [built] = (await this.db.query(
      `SELECT string_agg(metadata, ',' ORDER BY instance_number NULLS LAST, id) AS document FROM instance WHERE series_fk = $1 AND is_current`,
      [seriesId],
    )) as { document: string | null }[];
    let document = built?.document ?? '';
    const overlay = JSON.parse(overlayText) as Record<string, unknown>;
    if (document && Object.keys(overlay).length > 0) {
      document = (JSON.parse(`[${document}]`) as Record<string, unknown>[]).map((instance) => JSON.stringify(sortedKeys({ ...instance, ...overlay }))).join(',');
    }
    await this.db.query(
      `INSERT INTO series_metadata (series_fk, document, signature) VALUES ($1, $2, $3)
       ON CONFLICT (series_fk) DO UPDATE SET document = excluded.document, signature = excluded.signature, built_at = now()`,
      [seriesId, document, fullSignature],
    );
    return document;
  }

  /**
   * Frames (PS3.18 10.4.1.1.4, 1-based). Native data: each frame is a fixed slice of the pixel
   * data. Encapsulated data: one fragment per frame, or all fragments for a single frame.
   */
  async frames(instance: InstanceRow, numbers: readonly number[]): Promise<{ number: number; open: () => Promise<Readable>; compressed: boolean }[]> {
    if (instance.pixelOffset === null || instance.pixelLength === null) throw new FramesNotAvailableError('the instance has no addressable pixel data');
    const count = instance.numberOfFrames ?? 1;
    for (const n of numbers) {
      if (!Number.isInteger(n) || n < 1 || n > count) throw new RetrieveRequestError(`frame ${n} does not exist (the instance has ${count})`);
    }
    if (instance.fragments) {
      const fragments = instance.fragments.slice(1); // the first item is the Basic Offset Table
      if (fragments.length !== count && count !== 1) {
        throw new FramesNotAvailableError('frames of this encapsulated object span several fragments; retrieve the instance instead');
      }
      return numbers.map((n) => {
        const parts = count === 1 ? fragments : [fragments[n - 1]!];
        return {
          number: n,
          compressed: true,
          open: async () => {
            if (parts.length === 1) {
              const [offset, length] = parts[0]!;
              return this.reader.open(instance, { start: offset, end: offset + length - 1 });
            }
            const { Readable } = await import('node:stream');
            const reader = this.reader;
            return Readable.from(
              (async function* () {
                for (const [offset, length] of parts) yield* await reader.open(instance, { start: offset, end: offset + length - 1 });
              })(),
            );
          },
        };
      });
    }
    const frameBytes = ((instance.rows ?? 0) * (instance.columns ?? 0) * (instance.samplesPerPixel ?? 1) * (instance.bitsAllocated ?? 0)) / 8;
    if (!Number.isInteger(frameBytes) || frameBytes <= 0 || frameBytes * count > instance.pixelLength) {
      throw new FramesNotAvailableError('the pixel data size does not match its description');
    }
    return numbers.map((n) => ({
      number: n,
      compressed: false,
      open: async () => {
        const start = instance.pixelOffset! + (n - 1) * frameBytes;
        return littleEndianPixels(instance, await this.reader.open(instance, { start, end: start + frameBytes - 1 }));
      },
    }));
  }

  /** Top-level bulk data by tag (pixel data), for BulkDataURIs in metadata. */
  async bulk(instance: InstanceRow, tag: number): Promise<Readable> {
    if (tag !== 0x7fe00010) {
      // Other top-level bulk values (a vendor's large private OB, say) are bytes as stored.
      const where = instance.bulkElements?.[tagToHex(tag)];
      if (!where) throw new RetrieveRequestError('no such bulk data');
      const [offset, length] = where;
      return this.reader.open(instance, { start: offset, end: offset + length - 1 });
    }
    if (instance.pixelOffset === null || instance.pixelLength === null) {
      throw new RetrieveRequestError('no such bulk data');
    }
    if (instance.fragments) throw new FramesNotAvailableError('encapsulated pixel data is retrieved by frame');
    return littleEndianPixels(instance, await this.reader.open(instance, { start: instance.pixelOffset, end: instance.pixelOffset + instance.pixelLength - 1 }));
  }
}

/**
 * Native pixel data leaves little endian whatever the stored encoding: DICOMweb sends uncompressed
 * frames and bulk data as Explicit VR Little Endian bytes (PS3.18 8.7.3.3.1), so the words of a big
 * endian object (PS3.5 A.3, retired but still received) are swapped on the way, by Bits Allocated.
 */
function littleEndianPixels(instance: InstanceRow, stored: Readable): Readable {
  const bits = instance.bitsAllocated ?? 8;
  if (lookupTransferSyntax(instance.transferSyntaxUid)?.littleEndian !== false || bits <= 8) return stored;
  const width = bits > 32 ? 8 : bits > 16 ? 4 : 2;
  let carry = Buffer.alloc(0);
  const swap = new Transform({
    transform(chunk: Buffer, _encoding, callback): void {
      const bytes = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const whole = bytes.length - (bytes.length % width);
      carry = Buffer.from(bytes.subarray(whole));
      const words = Buffer.from(bytes.subarray(0, whole));
      if (width === 2) words.swap16();
      else if (width === 4) words.swap32();
      else words.swap64();
      callback(null, words);
    },
    flush(callback): void {
      callback(null, carry.length > 0 ? carry : undefined);
    },
  });
  // pipeline carries a read error on to `swap`, so the response is aborted rather than cut short silently.
  return pipeline(stored, swap, () => undefined);
}

function sortedKeys(json: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(json).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function withBase(doc: string, baseUrl: string): string {
  return doc.replaceAll(`"${BULK_PLACEHOLDER_PREFIX}`, `"${baseUrl}`);
}
