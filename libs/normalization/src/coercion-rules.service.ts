import cluster from 'node:cluster';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import {
  type CoercionContext,
  type CoercionPhase,
  type CoercionResult,
  CoercionRuleError,
  CoercionRuleSet,
  type CoercionRuleSpec,
  type CompiledRule,
  compileRule,
  type DicomJson,
  reportInvalidValues,
  validateRuleSpec,
} from '#vna/dicom';
import { CoercionRuleRepository, type CoercionRuleVersion, type InstanceCoercion, type StoredCoercionRule } from './coercion-rule.repository.js';
import { NormalizationError } from './normalization.errors.js';

/** Tells the other worker processes of this node that the rules changed (the cluster primary relays it). */
const RULES_CHANGED = 'vna:coercion-rules-changed';

/** A rule change as asked for: the rule, and optionally why and which version it replaces. */
export interface RuleChange {
  readonly rule: unknown;
  readonly reason?: string;
  readonly expectedVersion?: number;
}

export interface DryRunRequest {
  readonly json: DicomJson;
  readonly phase: CoercionPhase;
  readonly aet?: string;
  readonly sourceKind?: string;
  readonly batch?: string;
  /** A rule to try (not saved): it runs with the saved ones, in place of a saved rule of the same name. */
  readonly rule?: unknown;
}

export interface DryRunResult {
  readonly before: DicomJson;
  readonly after: DicomJson;
  readonly changed: CoercionResult['changed'];
  readonly received: CoercionResult['received'];
  readonly overlay: CoercionResult['overlay'];
  readonly applied: readonly { id: string; version: number; name: string }[];
  readonly warnings: readonly string[];
}

/**
 * Coercion rules: saved and versioned through the repository (a broken rule is refused before it
 * is saved), compiled once per rule version and held in memory, so coercing an object costs no
 * database round trip. Other processes' changes are picked up within VNA_COERCION_REFRESH_SECONDS.
 */
@Injectable()
export class CoercionRulesService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Coercion');
  private compiled = new Map<string, CompiledRule>();
  private names = new Map<string, string>();
  private ingestSet = new CoercionRuleSet([], 'ingest');
  private egressSet = new CoercionRuleSet([], 'egress');
  private signature: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly rules: CoercionRuleRepository,
  ) {}

  private readonly onMessage = (message: { type?: string }): void => {
    if (message?.type === RULES_CHANGED) void this.reload().catch((e: Error) => this.logger.warn(`rule reload failed: ${e.message}`));
  };

  async onModuleInit(): Promise<void> {
    // Workers of one node apply a change at once; other nodes within VNA_COERCION_REFRESH_SECONDS.
    if (cluster.isWorker) process.on('message', this.onMessage);
    await this.reload();
    this.timer = setInterval(() => void this.refresh().catch((e: Error) => this.logger.warn(`rule refresh failed: ${e.message}`)), this.config.coercion.refreshMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
    process.off('message', this.onMessage);
  }

  /** Reloads here and tells this node's other workers. */
  private async changed(): Promise<void> {
    await this.reload();
    if (cluster.isWorker) process.send?.({ type: RULES_CHANGED, broadcast: true });
  }

  /** The enabled rules of a phase, as compiled now. */
  ruleSet(phase: CoercionPhase): CoercionRuleSet {
    return phase === 'ingest' ? this.ingestSet : this.egressSet;
  }

  /** Reloads when the rules changed (another process saved one). */
  async refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        if ((await this.rules.signature()) !== this.signature) await this.reload();
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private reloads: Promise<void> = Promise.resolve();

  /** Reloads one at a time, so that an earlier read never replaces a later one. */
  private reload(): Promise<void> {
    const next = this.reloads.catch(() => undefined).then(() => this.load());
    this.reloads = next;
    return next;
  }

  private async load(): Promise<void> {
    const stored = await this.rules.list();
    const next = new Map<string, CompiledRule>();
    const names = new Map<string, string>();
    for (const r of stored) {
      const key = `${r.id}@${r.version}`;
      names.set(r.id, r.name);
      const known = this.compiled.get(key);
      if (known) {
        next.set(key, known);
        continue;
      }
      try {
        next.set(key, compileRule({ id: r.id, version: r.version }, r.rule));
      } catch (e) {
        // Saved rules were valid when saved; one that no longer compiles is skipped, not fatal to ingest.
        this.logger.error(`coercion rule ${r.id} version ${r.version} does not compile and is skipped: ${(e as Error).message}`);
      }
    }
    this.compiled = next;
    this.names = names;
    this.ingestSet = new CoercionRuleSet([...next.values()], 'ingest');
    this.egressSet = new CoercionRuleSet([...next.values()], 'egress');
    this.signature = stored.map((r) => `${r.id}@${r.version}`).sort((a, b) => Number(a.split('@')[0]) - Number(b.split('@')[0])).join(',');
  }

  /** Context of an ingest source: who sent it, and the source's default issuer. */
  ingestContext(aet: string | undefined, sourceKind: string, batch?: string): CoercionContext {
    return { aet, sourceKind, batch, defaultIssuer: aet ? this.config.coercion.sourceIssuers[aet] : undefined };
  }

  /** Ingest coercion of one object's header, changed in place (never throws for the object's sake). */
  coerceIngest(json: DicomJson, aet: string | undefined, sourceKind: string, batch?: string): CoercionResult {
    const result = this.ingestSet.apply(json, this.ingestContext(aet, sourceKind, batch), { inPlace: true });
    const warnings = [...result.warnings];
    reportInvalidValues(result.json, warnings);
    return { ...result, warnings };
  }

  list(includeDeleted: boolean): Promise<StoredCoercionRule[]> {
    return this.rules.list(includeDeleted);
  }

  async get(id: string): Promise<StoredCoercionRule> {
    const rule = await this.rules.get(id);
    if (!rule) throw new NormalizationError('not-found', 'RULE_NOT_FOUND', `no coercion rule ${id}`);
    return rule;
  }

  async versions(id: string): Promise<CoercionRuleVersion[]> {
    await this.get(id);
    return this.rules.versions(id);
  }

  async version(id: string, version: number): Promise<CoercionRuleVersion> {
    const found = (await this.versions(id)).find((v) => v.version === version);
    if (!found) throw new NormalizationError('not-found', 'RULE_NOT_FOUND', `coercion rule ${id} has no version ${version}`);
    return found;
  }

  async create(change: RuleChange, actor: string): Promise<StoredCoercionRule> {
    const rule = this.validate(change.rule);
    const created = await this.rules.create(rule, actor, change.reason ?? null);
    if (!created) throw new NormalizationError('conflict', 'RULE_NAME_TAKEN', `a coercion rule named "${rule.name}" exists`);
    this.logger.log(`coercion rule ${created.id} "${rule.name}" created by ${actor}`);
    await this.changed();
    return created;
  }

  async update(id: string, change: RuleChange, actor: string): Promise<StoredCoercionRule> {
    const rule = this.validate(change.rule);
    return this.change(id, rule, actor, change, 'updated');
  }

  async remove(id: string, actor: string, reason: string | undefined, expectedVersion?: number): Promise<StoredCoercionRule> {
    const current = await this.get(id);
    return this.change(id, current.rule, actor, { rule: current.rule, reason, expectedVersion }, 'deleted');
  }

  private async change(id: string, rule: CoercionRuleSpec, actor: string, change: RuleChange, kind: 'updated' | 'deleted'): Promise<StoredCoercionRule> {
    const outcome = /^\d{1,18}$/.test(id) ? await this.rules.update(id, rule, actor, change.reason ?? null, change.expectedVersion, kind) : 'missing';
    if (outcome === 'missing') throw new NormalizationError('not-found', 'RULE_NOT_FOUND', `no current coercion rule ${id}`);
    if (outcome === 'stale') throw new NormalizationError('conflict', 'VERSION_MISMATCH', `coercion rule ${id} is no longer at version ${change.expectedVersion}`);
    if (outcome === 'name-taken') throw new NormalizationError('conflict', 'RULE_NAME_TAKEN', `a coercion rule named "${rule.name}" exists`);
    this.logger.log(`coercion rule ${id} ${kind} by ${actor} (version ${outcome.version})`);
    await this.changed();
    return outcome;
  }

  /** A rule as sent, checked as it would be compiled (a broken one is refused with the part named). */
  private validate(input: unknown): CoercionRuleSpec {
    try {
      const rule = validateRuleSpec(input);
      compileRule({ id: 'new', version: 0 }, rule);
      return rule;
    } catch (e) {
      if (e instanceof CoercionRuleError) throw new NormalizationError('invalid', 'INVALID_RULE', `invalid coercion rule: ${e.message}`);
      throw e;
    }
  }

  /** What ingest coercion did to an instance: rule versions, changed attributes, their values as received. */
  async instanceCoercion(sopInstanceUid: string): Promise<InstanceCoercion> {
    const found = await this.rules.instanceCoercion(sopInstanceUid);
    if (!found) throw new NormalizationError('not-found', 'INSTANCE_NOT_FOUND', `no instance ${sopInstanceUid}`);
    return found;
  }

  /** What the rules (and a rule being tried) would do to an object; nothing is stored. */
  dryRun(request: DryRunRequest): DryRunResult {
    let set = this.ruleSet(request.phase);
    const names = new Map(this.names);
    if (request.rule !== undefined) {
      const candidate = this.validate(request.rule);
      const compiled = compileRule({ id: 'candidate', version: 0 }, candidate);
      names.set('candidate', candidate.name);
      set = new CoercionRuleSet([...set.rules.filter((r) => r.name.toLowerCase() !== candidate.name.toLowerCase()), compiled], request.phase);
    }
    const ctx = request.phase === 'ingest' ? this.ingestContext(request.aet, request.sourceKind ?? 'stow', request.batch) : { aet: request.aet, sourceKind: request.sourceKind ?? 'dimse' };
    const result = set.apply(request.json, ctx);
    const warnings = [...result.warnings];
    reportInvalidValues(result.json, warnings);
    return {
      before: request.json,
      after: result.json,
      changed: result.changed,
      received: result.received,
      overlay: result.overlay,
      applied: result.applied.map((r) => ({ ...r, name: names.get(r.id) ?? r.id })),
      warnings,
    };
  }
}
