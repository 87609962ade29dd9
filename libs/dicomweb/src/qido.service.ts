import type { IncomingMessage } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { type QueryLevel, type QueryResult, QueryService, QueryValueError } from '#vna/archive';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { lookupTag, parseTagHex, Tag, tagOfKeyword } from '#vna/dicom';
import { dicomwebBase } from './dicomweb-base.js';
import { DicomwebError } from './dicomweb.errors.js';

export interface QidoScope {
  readonly level: Exclude<QueryLevel, 'PATIENT'>;
  readonly studyUid?: string;
  readonly seriesUid?: string;
}

type QueryParams = Record<string, string | string[] | undefined>;


function attributeTag(name: string): number | undefined {
  return parseTagHex(name) ?? tagOfKeyword(name);
}

/** QIDO-RS (PS3.18 10.6): query parameters to a search of the index, answered in DICOM JSON. */
@Injectable()
export class QidoService {
  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly query: QueryService,
  ) {}

  async search(req: IncomingMessage, scope: QidoScope, params: QueryParams): Promise<QueryResult> {
    const keys = new Map<number, string>();
    const includeFields: number[] = [];
    let includeAll = false;
    // Without a limit, everything up to VNA_QIDO_MAX_RESULTS (a Warning header says when that cuts).
    let limit = this.config.qido.maxResults;
    let offset = 0;
    let fuzzy = false;
    for (const [name, raw] of Object.entries(params)) {
      const values = (Array.isArray(raw) ? raw : [raw ?? '']).map(String);
      switch (name) {
        case 'limit':
          limit = this.nonNegative(name, values.at(-1)!);
          continue;
        case 'offset':
          offset = this.nonNegative(name, values.at(-1)!);
          continue;
        case 'fuzzymatching':
          fuzzy = values.at(-1) === 'true';
          continue;
        case 'includefield':
          for (const field of values.flatMap((v) => v.split(','))) {
            if (field === 'all') includeAll = true;
            else if (field) includeFields.push(this.tagOf(field));
          }
          continue;
        default: {
          const tag = this.tagOf(name);
          // UID List matching takes a comma-separated list in QIDO-RS (PS3.18 8.3.4.1) where C-FIND
          // separates values with backslashes (PS3.4 C.2.2.2.2); UIDs never contain a comma.
          const list = lookupTag(tag)?.vr === 'UI' ? values.map((v) => v.replaceAll(',', '\\')) : values;
          keys.set(tag, list.join('\\'));
        }
      }
    }
    if (scope.studyUid) keys.set(Tag.StudyInstanceUID, scope.studyUid);
    if (scope.seriesUid) keys.set(Tag.SeriesInstanceUID, scope.seriesUid);
    if (fuzzy) {
      // Fuzzy matching (PS3.18 8.3.4.1): person names match from the start of any name component, ignoring case.
      for (const tag of [Tag.PatientName, Tag.ReferringPhysicianName]) {
        const v = keys.get(tag);
        if (v && !/[*?]$/.test(v)) keys.set(tag, `${v}*`);
      }
    }
    try {
      return await this.query.search({
        level: scope.level,
        keys,
        includeFields,
        includeAll,
        limit: limit === 0 ? this.config.qido.maxResults : limit,
        offset,
        relational: true,
        retrieveBase: dicomwebBase(this.config, req),
      });
    } catch (e) {
      if (e instanceof QueryValueError) throw new DicomwebError(400, e.message);
      throw e;
    }
  }

  private tagOf(name: string): number {
    if (name.includes('.')) throw new DicomwebError(400, `sequence matching (${name}) is not supported`);
    const tag = attributeTag(name);
    if (tag === undefined) throw new DicomwebError(400, `"${name}" is not a DICOM attribute keyword or tag`);
    return tag;
  }

  private nonNegative(name: string, value: string): number {
    if (!/^\d{1,9}$/.test(value)) throw new DicomwebError(400, `${name} must be a non-negative integer`);
    return Number(value);
  }
}
