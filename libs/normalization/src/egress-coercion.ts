import { Inject, Injectable } from '@nestjs/common';
import type { EgressAdjustment, InstanceRow } from '#vna/archive';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { type DicomJson, jsonToElements } from '#vna/dicom';
import { DicomNodeService } from '#vna/dimse';
import { CoercionRuleRepository } from './coercion-rule.repository.js';
import { CoercionRulesService } from './coercion-rules.service.js';

/** The pseudo-destination of DICOMweb retrieves (no AE title). */
const DICOMWEB = 'dicomweb';

/**
 * Per destination: the egress coercion rules that apply to it and the character set it accepts
 * (VNA_EGRESS_CHARSETS or the node's, else VNA_EGRESS_CHARSET as the fallback when a header must change). With no
 * egress rule for the destination the instance's metadata is not read at all.
 */
@Injectable()
export class EgressCoercion {
  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly rules: CoercionRulesService,
    private readonly repository: CoercionRuleRepository,
    private readonly nodes: DicomNodeService,
  ) {}

  /** The destination's character set: VNA_EGRESS_CHARSETS, else the node's own (/api/v1/dicom-nodes), else the default as a fallback only. */
  async charsetFor(destination: string): Promise<{ target: readonly string[]; force: boolean }> {
    if (destination === DICOMWEB) return { target: this.config.egress.defaultCharset, force: false };
    const forced = this.config.egress.charsets[destination] ?? (await this.nodes.find(destination))?.charset ?? undefined;
    return { target: forced ?? this.config.egress.defaultCharset, force: forced !== undefined };
  }

  async adjust(instance: InstanceRow, destination: string): Promise<EgressAdjustment> {
    const charset = await this.charsetFor(destination);
    const set = this.rules.ruleSet('egress');
    const ctx = { aet: destination === DICOMWEB ? undefined : destination, sourceKind: destination === DICOMWEB ? 'dicomweb' : 'dimse' };
    // The object's metadata is read only when a rule for this destination exists.
    if (!set.anyFor(ctx)) return { charset };
    const text = await this.repository.metadata(instance.id);
    if (!text) return { charset };
    // Conditions see the object as it leaves: the index's values with the patient's current ones over them.
    const json = { ...(JSON.parse(text) as DicomJson), ...(instance.patientOverlay as DicomJson) };
    const result = set.apply(json, ctx);
    const replace: DicomJson = {};
    const remove: number[] = [];
    for (const [key, attr] of Object.entries(result.changed)) {
      if (attr) replace[key] = attr;
      else remove.push(parseInt(key, 16) >>> 0);
    }
    return { replace: jsonToElements(replace), remove, charset };
  }
}
