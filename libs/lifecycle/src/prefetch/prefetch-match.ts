import type { PrefetchMatch } from '#vna/config';

/** What a trigger says of the coming exam: its modalities and body parts (upper case; either may be empty). */
export interface PrefetchSubject {
  readonly modalities: readonly string[];
  readonly bodyParts: readonly string[];
}

/**
 * What a prior study must have, in any one of its series, to be brought back (whole): a series'
 * modality among `modalities` or its body part among `bodyParts` (ignoring case). Both empty: any
 * study.
 */
export interface PriorCriteria {
  readonly modalities: string[];
  readonly bodyParts: string[];
}

/**
 * The criteria VNA_LIFECYCLE_PREFETCH_MATCH sets for a trigger. 'body-part' falls back to the
 * modalities when the trigger names no body part (an order without OBR-15.4); a trigger naming
 * neither (a pre-admit, say) matches any prior study whatever the setting.
 */
export function priorCriteria(match: PrefetchMatch, t: PrefetchSubject): PriorCriteria {
  const modalities = [...t.modalities];
  const bodyParts = t.bodyParts.map((b) => b.trim().toUpperCase()).filter((b) => b !== '');
  switch (match) {
    case 'any':
      return { modalities: [], bodyParts: [] };
    case 'modality':
      return { modalities, bodyParts: [] };
    case 'body-part':
      return bodyParts.length > 0 ? { modalities: [], bodyParts } : { modalities, bodyParts: [] };
    case 'modality-or-body-part':
      return { modalities, bodyParts };
  }
}
