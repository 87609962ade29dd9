import { Injectable } from '@nestjs/common';
import type { DicomJson, DicomJsonAttribute } from '#vna/dicom';
import type { InstanceSource } from './instance-index.repository.js';

/** What normalization (attribute coercion per source) made of one received object's header. */
export interface IngestNormalization {
  /** The dataset as the index keeps it (DICOM JSON, UTF-8). */
  readonly json: DicomJson;
  /** Changed attributes laid over the original on the way out (null: removed). */
  readonly overlay: Readonly<Record<string, DicomJsonAttribute | null>>;
  /** The changed attributes as received (null: absent). */
  readonly received: Readonly<Record<string, DicomJsonAttribute | null>>;
  /** The rule versions that changed something, as `id@version`. */
  readonly rules: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * Runs on every received object before its index record is built; must be quick and never throw for
 * the object's sake. It may change `json` itself: ingest builds it for this call and keeps only the result.
 */
export type IngestNormalizer = (json: DicomJson, source: InstanceSource) => IngestNormalization | undefined;

/**
 * The one normalizer ingest runs (libs/normalization sets it in onModuleInit); ingest does not
 * know it. Without one, objects are indexed as received.
 */
@Injectable()
export class IngestNormalizerRegistry {
  private normalizer: IngestNormalizer | undefined;

  set(normalizer: IngestNormalizer): void {
    this.normalizer = normalizer;
  }

  get(): IngestNormalizer | undefined {
    return this.normalizer;
  }
}
