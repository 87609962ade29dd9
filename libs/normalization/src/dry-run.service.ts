import type { IncomingMessage } from 'node:http';
import { Injectable } from '@nestjs/common';
import type { CoercionPhase } from '#vna/dicom';
import { CoercionRulesService, type DryRunResult } from './coercion-rules.service.js';
import { NormalizationError } from './normalization.errors.js';
import { checkDicomJson, part10ToJson } from './object-input.js';

const MAX_UPLOAD = 64 * 1024 * 1024;

/** A dry run's request as sent (a Part 10 upload or JSON) to the rules service; nothing is stored. */
@Injectable()
export class DryRunService {
  constructor(private readonly rules: CoercionRulesService) {}

  async run(req: IncomingMessage, q: { phase?: CoercionPhase; aet?: string; sourceKind?: string; batch?: string }, body: Record<string, unknown> | undefined): Promise<DryRunResult> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'application/dicom') {
      const json = part10ToJson(await readBody(req));
      return this.rules.dryRun({ json, phase: q.phase ?? 'ingest', aet: q.aet, sourceKind: q.sourceKind, batch: q.batch });
    }
    if (type !== 'application/json') throw new NormalizationError('invalid', 'INVALID_OBJECT', 'send application/dicom (a Part 10 object) or application/json ({ "object": DICOM JSON, ... })');
    const b = body ?? {};
    const phase = b['phase'] ?? q.phase ?? 'ingest';
    if (phase !== 'ingest' && phase !== 'egress') throw new NormalizationError('invalid', 'INVALID_OBJECT', 'phase must be ingest or egress');
    for (const key of ['aet', 'sourceKind', 'batch'] as const) {
      if (b[key] !== undefined && typeof b[key] !== 'string') throw new NormalizationError('invalid', 'INVALID_OBJECT', `${key} must be a string`);
    }
    const unknown = Object.keys(b).filter((k) => !['object', 'phase', 'aet', 'sourceKind', 'batch', 'rule'].includes(k));
    if (unknown.length) throw new NormalizationError('invalid', 'INVALID_OBJECT', `unknown properties: ${unknown.join(', ')} (allowed: object, phase, aet, sourceKind, batch, rule)`);
    return this.rules.dryRun({
      json: checkDicomJson(b['object']),
      phase,
      aet: (b['aet'] as string | undefined) ?? q.aet,
      sourceKind: (b['sourceKind'] as string | undefined) ?? q.sourceKind,
      batch: (b['batch'] as string | undefined) ?? q.batch,
      rule: b['rule'],
    });
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_UPLOAD) throw new NormalizationError('invalid', 'INVALID_OBJECT', `a dry run takes objects of at most ${MAX_UPLOAD} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
