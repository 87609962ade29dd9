import { describe, expect, it } from '@jest/globals';
import { priorCriteria } from './prefetch-match.js';

const chestMr = { modalities: ['MR'], bodyParts: ['CHEST'] };
const mrOnly = { modalities: ['MR'], bodyParts: [] };
const preAdmit = { modalities: [], bodyParts: [] };

describe('priorCriteria (VNA_LIFECYCLE_PREFETCH_MATCH)', () => {
  it('modality: the order’s modalities only, its body parts ignored', () => {
    expect(priorCriteria('modality', chestMr)).toEqual({ modalities: ['MR'], bodyParts: [] });
  });

  it('body-part: the order’s body parts only; an order naming none falls back to its modalities', () => {
    expect(priorCriteria('body-part', chestMr)).toEqual({ modalities: [], bodyParts: ['CHEST'] });
    expect(priorCriteria('body-part', mrOnly)).toEqual({ modalities: ['MR'], bodyParts: [] });
    expect(priorCriteria('body-part', { modalities: ['MR'], bodyParts: ['  '] })).toEqual({ modalities: ['MR'], bodyParts: [] });
  });

  it('modality-or-body-part: both, so a prior matching either comes back', () => {
    expect(priorCriteria('modality-or-body-part', chestMr)).toEqual({ modalities: ['MR'], bodyParts: ['CHEST'] });
    expect(priorCriteria('modality-or-body-part', mrOnly)).toEqual({ modalities: ['MR'], bodyParts: [] });
  });

  it('any, and a trigger naming neither (a pre-admit) under every setting: no criteria (any prior)', () => {
    expect(priorCriteria('any', chestMr)).toEqual({ modalities: [], bodyParts: [] });
    for (const match of ['modality', 'body-part', 'modality-or-body-part', 'any'] as const) expect(priorCriteria(match, preAdmit)).toEqual({ modalities: [], bodyParts: [] });
  });

  it('compares body parts in upper case', () => {
    expect(priorCriteria('body-part', { modalities: [], bodyParts: [' knee'] }).bodyParts).toEqual(['KNEE']);
  });
});
