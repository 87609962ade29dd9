import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable } from '@nestjs/common';
import { IngestError, type IngestErrorCode, IngestService, type InstanceSource } from '#vna/archive';
import type { Principal } from '#vna/auth';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { type DicomJson, Tag, tagToHex } from '#vna/dicom';
import { dicomwebBase } from './dicomweb-base.js';
import { DicomwebError } from './dicomweb.errors.js';
import { boundaryFromContentType, MultipartError, parseMediaType, parseMultipart } from './multipart/index.js';

/** The request header naming an import batch (a migration): its objects are ingested as an import of that batch. */
export const IMPORT_BATCH_HEADER = 'x-vna-import-batch';

/** Failure Reason (0008,1197) values of PS3.18 Table 10.5.3-2 / PS3.4 Annex B. */
const FAILURE_REASON: Record<IngestErrorCode | 'NOT_DICOM_PART', number> = {
  NOT_DICOM: 0xc000,
  NOT_DICOM_PART: 0xc000,
  MALFORMED: 0xc000,
  ABORTED: 0xc000,
  MISSING_ATTRIBUTE: 0xa900,
  MISMATCH: 0xa900,
  STUDY_MISMATCH: 0xa900,
  INVALID_REJECTION_NOTE: 0xa900,
  // Refused: Not Authorized (PS3.7 C.5): an instance an IOCM rejection note rejected, sent again.
  REJECTED_INSTANCE: 0x0124,
  UNSUPPORTED_TRANSFER_SYNTAX: 0xc122,
  TOO_LARGE: 0xa700,
  OUT_OF_RESOURCES: 0xa700,
};

export interface StowResult {
  readonly status: number;
  readonly body: DicomJson;
}

interface Referenced {
  classUid: string;
  instanceUid: string;
  studyUid: string;
  url?: string;
  warning?: number;
}
interface Failed {
  classUid: string;
  instanceUid: string;
  reason: number;
}

/**
 * STOW-RS (PS3.18 10.5): each part of a multipart/related request streams to the spool and is
 * indexed like a C-STORE; the answer lists what was stored and what failed, and why.
 */
@Injectable()
export class StowService {
  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly ingest: IngestService,
  ) {}

  async store(req: IncomingMessage, caller: Principal, studyUid?: string): Promise<StowResult> {
    const contentType = req.headers['content-type'];
    let boundary: string;
    try {
      const media = parseMediaType(contentType ?? '');
      if (media.essence !== 'multipart/related') throw new DicomwebError(415, 'STOW-RS takes multipart/related; type="application/dicom"');
      const type = media.parameters['type'];
      if (type && type.toLowerCase() !== 'application/dicom') {
        throw new DicomwebError(415, `parts of type ${type} are not supported; send application/dicom`);
      }
      boundary = boundaryFromContentType(contentType);
    } catch (e) {
      if (e instanceof MultipartError) throw new DicomwebError(e.httpStatus === 415 ? 415 : 400, e.message);
      throw e;
    }
    if (studyUid && !/^[0-9.]{1,64}$/.test(studyUid)) throw new DicomwebError(400, `"${studyUid}" is not a Study Instance UID`);
    // A migration tool names its import batch: the objects are an import (coercion rules per batch, libs/normalization).
    const batchHeader = req.headers[IMPORT_BATCH_HEADER];
    const batch = Array.isArray(batchHeader) ? batchHeader[0] : batchHeader;
    if (batch !== undefined && !/^[\x21-\x7e][\x20-\x7e]{0,63}$/.test(batch)) throw new DicomwebError(400, `${IMPORT_BATCH_HEADER} must be 1-64 printable ASCII characters`);
    const source: InstanceSource = batch ? { kind: 'import', aet: caller.name, batch: batch.trim() } : { kind: 'stow', aet: caller.name };

    const base = dicomwebBase(this.config, req);
    const referenced: Referenced[] = [];
    const failed: Failed[] = [];
    let malformed: string | undefined;
    try {
      for await (const part of parseMultipart(req, boundary, { maxTotalBytes: this.config.stow.maxBytes })) {
        const partType = part.contentType ? safeEssence(part.contentType) : 'application/dicom';
        if (partType !== 'application/dicom') {
          part.body.resume();
          failed.push({ classUid: '', instanceUid: '', reason: FAILURE_REASON.NOT_DICOM_PART });
          continue;
        }
        const writer = this.ingest.createWriter({ kind: 'part10' });
        let bodyError: Error | undefined;
        await pipeline(part.body, writer).catch((e: Error) => {
          bodyError = e;
        });
        if (bodyError) {
          writer.destroy(bodyError);
          throw bodyError;
        }
        try {
          const result = await this.ingest.commit(writer, source, { studyUid });
          referenced.push({
            classUid: result.sopClassUid,
            instanceUid: result.sopInstanceUid,
            studyUid: result.studyUid,
            url: `${base}/studies/${result.studyUid}/series/${result.seriesUid}/instances/${result.sopInstanceUid}`,
            warning: result.warnings.length > 0 ? 0xb006 : undefined,
          });
        } catch (e) {
          if (!(e instanceof IngestError)) throw e;
          failed.push({ classUid: e.sopClassUid, instanceUid: e.sopInstanceUid, reason: FAILURE_REASON[e.code] });
        }
      }
    } catch (e) {
      if (!(e instanceof MultipartError)) throw e;
      if (e.code === 'TOO_LARGE') throw new DicomwebError(413, e.message);
      malformed = e.message;
    }
    if (malformed && referenced.length === 0) throw new DicomwebError(400, `malformed multipart body: ${malformed}`);
    if (referenced.length === 0 && failed.length === 0) throw new DicomwebError(400, 'the request holds no instances');
    const body: DicomJson = {};
    // Retrieve URL is Type 2 (PS3.18 Table I.1-1): the study's, when the request named it or all that
    // was stored belongs to one study; present but empty otherwise.
    const studies = new Set(referenced.map((r) => r.studyUid));
    const retrieveStudy = studyUid ?? (studies.size === 1 ? [...studies][0] : undefined);
    body[tagToHex(Tag.RetrieveURL)] = retrieveStudy ? { vr: 'UR', Value: [`${base}/studies/${retrieveStudy}`] } : { vr: 'UR' };
    if (failed.length > 0 || malformed) {
      body[tagToHex(Tag.FailedSOPSequence)] = {
        vr: 'SQ',
        Value: [
          ...failed.map((f) => ({
            [tagToHex(Tag.ReferencedSOPClassUID)]: f.classUid ? { vr: 'UI', Value: [f.classUid] } : { vr: 'UI' },
            [tagToHex(Tag.ReferencedSOPInstanceUID)]: f.instanceUid ? { vr: 'UI', Value: [f.instanceUid] } : { vr: 'UI' },
            [tagToHex(Tag.FailureReason)]: { vr: 'US', Value: [f.reason] },
          })),
          ...(malformed
            ? [{ [tagToHex(Tag.ReferencedSOPClassUID)]: { vr: 'UI' }, [tagToHex(Tag.ReferencedSOPInstanceUID)]: { vr: 'UI' }, [tagToHex(Tag.FailureReason)]: { vr: 'US', Value: [0xc000] } }]
            : []),
        ],
      };
    }
    if (referenced.length > 0) {
      body[tagToHex(Tag.ReferencedSOPSequence)] = {
        vr: 'SQ',
        Value: referenced.map((r) => ({
          [tagToHex(Tag.ReferencedSOPClassUID)]: { vr: 'UI', Value: [r.classUid] },
          [tagToHex(Tag.ReferencedSOPInstanceUID)]: { vr: 'UI', Value: [r.instanceUid] },
          ...(r.url ? { [tagToHex(Tag.RetrieveURL)]: { vr: 'UR', Value: [r.url] } } : {}),
          ...(r.warning ? { [tagToHex(Tag.WarningReason)]: { vr: 'US', Value: [r.warning] } } : {}),
        })),
      };
    }
    // 200 all stored; 202 some stored, some failed (or warnings); 409 none stored (PS3.18 10.5.3).
    const status = failed.length === 0 && !malformed ? (referenced.some((r) => r.warning) ? 202 : 200) : referenced.length > 0 ? 202 : 409;
    return { status, body: sortKeys(body) };
  }
}

function safeEssence(contentType: string): string {
  try {
    return parseMediaType(contentType).essence;
  } catch {
    return contentType.toLowerCase();
  }
}

function sortKeys(json: DicomJson): DicomJson {
  return Object.fromEntries(Object.entries(json).sort(([a], [b]) => (a < b ? -1 : 1)));
}
