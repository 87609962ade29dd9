import { formatPersonName, parsePersonName } from '../charset/index.js';
import type { DicomJson, DicomJsonAttribute, DicomJsonPersonName } from '../json/dicom-json.js';
import type { CoercionAction, CoercionCondition, CoercionContext, CoercionPhase, CoercionRuleRef, CoercionRuleSpec } from './coercion-rule.js';
import { compilePattern, resolveAttribute, validateRuleSpec } from './rule-validation.js';

/** What coercion did to one object: the new JSON and, per changed attribute, before and after. */
export interface CoercionResult {
  /** The coerced dataset (the input object itself when nothing changed). */
  readonly json: DicomJson;
  /** Changed top-level attributes by tag (hex): the new value, or null where an attribute was removed. */
  readonly changed: Record<string, DicomJsonAttribute | null>;
  /** The same attributes as they were received: the old value, or null where the attribute was absent. */
  readonly received: Record<string, DicomJsonAttribute | null>;
  /** Of `changed`, what objects carry on their way out (the egress overlay): all but index-only changes. */
  readonly overlay: Record<string, DicomJsonAttribute | null>;
  /** The rule versions that changed something, in the order they ran. */
  readonly applied: readonly CoercionRuleRef[];
  /** Values a rule could not coerce (an unparseable legacy date, say): reported, never fatal. */
  readonly warnings: readonly string[];
}

const NUMERIC = new Set(['IS', 'DS', 'US', 'SS', 'UL', 'SL', 'FL', 'FD', 'SV', 'UV']);

/** Working state of one evaluation: copy-on-write over the input, so an untouched object costs nothing. */
export class CoercionWork {
  json: DicomJson;
  private copied = false;
  readonly received: Record<string, DicomJsonAttribute | null> = {};
  readonly warnings: string[] = [];
  /** Attributes last changed by an index-only rule. */
  readonly indexOnlyKeys = new Set<string>();
  touched = false;
  indexOnly = false;

  /** `inPlace`: the caller gives `input` up (it built it for this evaluation), so it is changed rather than copied. */
  constructor(
    readonly input: DicomJson,
    inPlace = false,
  ) {
    this.json = input;
    this.copied = inPlace;
  }

  get(key: string): DicomJsonAttribute | undefined {
    return this.json[key];
  }

  put(key: string, attr: DicomJsonAttribute | undefined): void {
    const before = this.json[key];
    if (attrEquals(before, attr)) return;
    if (!this.copied) {
      this.json = { ...this.json };
      this.copied = true;
    }
    if (!(key in this.received)) this.received[key] = before ?? null;
    if (attr === undefined) delete this.json[key];
    else this.json[key] = attr;
    if (this.indexOnly) this.indexOnlyKeys.add(key);
    else this.indexOnlyKeys.delete(key);
    this.touched = true;
  }
}

function attrEquals(a: DicomJsonAttribute | undefined, b: DicomJsonAttribute | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

function pnText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  const pn = v as DicomJsonPersonName;
  return formatPersonName({ alphabetic: pn.Alphabetic, ideographic: pn.Ideographic, phonetic: pn.Phonetic });
}

/** An attribute's values as text (person names as `Alphabetic=Ideographic=Phonetic`). */
export function attributeStrings(attr: DicomJsonAttribute | undefined): string[] {
  if (!attr?.Value) return [];
  if (attr.vr === 'PN') return attr.Value.map(pnText);
  return attr.Value.map((v) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v)));
}

/** Text values back into the JSON model for a VR; undefined when a number does not parse. */
function fromStrings(vr: string, values: readonly string[], warnings: string[], key: string): DicomJsonAttribute | undefined {
  if (values.every((v) => v === '')) return { vr };
  if (vr === 'PN') {
    return {
      vr,
      Value: values.map((v) => {
        const g = parsePersonName(v);
        const out: DicomJsonPersonName = {};
        if (g.alphabetic) out.Alphabetic = g.alphabetic;
        if (g.ideographic) out.Ideographic = g.ideographic;
        if (g.phonetic) out.Phonetic = g.phonetic;
        return Object.keys(out).length ? out : null;
      }),
    };
  }
  if (NUMERIC.has(vr)) {
    const nums = values.map((v) => (v.trim() === '' ? null : Number(v.trim())));
    if (nums.some((n) => n !== null && !Number.isFinite(n))) {
      warnings.push(`${key}: a coerced value is not a number (${vr}); left unchanged`);
      return undefined;
    }
    return { vr, Value: nums };
  }
  return { vr, Value: values.map((v) => (v === '' ? null : v)) };
}

type Test = (work: CoercionWork, ctx: CoercionContext) => boolean;
type Step = (work: CoercionWork, ctx: CoercionContext) => void;

function compileCondition(c: CoercionCondition, path: string): Test {
  const read: (work: CoercionWork, ctx: CoercionContext) => string[] = c.context
    ? (_w, ctx) => {
        const v = c.context === 'aet' ? ctx.aet : c.context === 'batch' ? ctx.batch : ctx.sourceKind;
        return v === undefined ? [] : [v];
      }
    : ((key) => (w: CoercionWork) => attributeStrings(w.get(key)).filter((s) => s !== ''))(resolveAttribute(`${path}.attribute`, c.attribute, undefined, false).key);
  let test: (values: string[]) => boolean;
  if (c.present !== undefined) test = (values) => values.length > 0 === c.present;
  else if (c.matches !== undefined) {
    const re = compilePattern(`${path}.matches`, c.matches, c.flags, c.ignoreCase ? 'i' : '');
    test = (values) => values.some((v) => re.test(v));
  } else {
    const wanted = (Array.isArray(c.equals) ? c.equals : [c.equals]) as string[];
    const set = new Set(c.ignoreCase ? wanted.map((w) => w.toUpperCase()) : wanted);
    test = (values) => values.some((v) => set.has(c.ignoreCase ? v.toUpperCase() : v.trim()));
  }
  return c.negate ? (w, ctx) => !test(read(w, ctx)) : (w, ctx) => test(read(w, ctx));
}

/** Changes each text value of an attribute through `f` (an absent or empty attribute is left alone). */
function eachValue(key: string, vrHint: string | undefined, f: (value: string, vr: string) => string): Step {
  return (work) => {
    const attr = work.get(key);
    if (!attr?.Value || attr.Value.length === 0 || attr.vr === 'SQ' || attr.InlineBinary !== undefined) return;
    const vr = attr.vr ?? vrHint;
    const next = fromStrings(vr, attributeStrings(attr).map((v) => (v === '' ? '' : f(v, vr))), work.warnings, key);
    if (next) work.put(key, next);
  };
}

/** Legacy date spellings to DA (PS3.5 6.2): 1993.04.30, 1993-04-30, 1993/04/30 -> 19930430. */
export function normalizeDate(value: string): string | undefined {
  const v = value.trim();
  if (/^\d{8}$/.test(v)) return validDate(v) ? v : undefined;
  const m = /^(\d{4})[.\-/ ](\d{1,2})[.\-/ ](\d{1,2})$/.exec(v);
  if (!m) return undefined;
  const out = `${m[1]}${m[2]!.padStart(2, '0')}${m[3]!.padStart(2, '0')}`;
  return validDate(out) ? out : undefined;
}

function validDate(da: string): boolean {
  const y = Number(da.slice(0, 4));
  const mo = Number(da.slice(4, 6));
  const d = Number(da.slice(6, 8));
  if (mo < 1 || mo > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, mo, 0)).getUTCDate();
}

/** Legacy time spellings to TM: 14:05:09.25 -> 140509.25, 14:05 -> 1405. */
export function normalizeTime(value: string): string | undefined {
  const v = value.trim();
  if (/^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/.test(v)) return validTime(v) ? v : undefined;
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?$/.exec(v);
  if (!m) return undefined;
  const out = `${m[1]!.padStart(2, '0')}${m[2]}${m[3] ?? ''}${m[4] ? `.${m[4]}` : ''}`;
  return validTime(out) ? out : undefined;
}

function validTime(tm: string): boolean {
  return Number(tm.slice(0, 2)) < 24 && (tm.length < 4 || Number(tm.slice(2, 4)) < 60) && (tm.length < 6 || Number(tm.slice(4, 6)) < 61);
}

/** Legacy date-time spellings to DT: 1993-04-30T14:05:09 -> 19930430140509. */
export function normalizeDateTime(value: string): string | undefined {
  const v = value.trim();
  if (/^\d{4,14}(\.\d{1,6})?([+-]\d{4})?$/.test(v)) return v;
  const m = /^(\d{4}[.\-/]\d{1,2}[.\-/]\d{1,2})(?:[T ](\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,6})?)?))?([+-]\d{2}:?\d{2})?$/.exec(v);
  if (!m) return undefined;
  const date = normalizeDate(m[1]!);
  const time = m[2] ? normalizeTime(m[2]) : '';
  if (!date || time === undefined) return undefined;
  return `${date}${time}${m[3] ? m[3].replace(':', '') : ''}`;
}

/** Person name clean-up: spaces around and inside components, stray trailing carets and empty groups. */
export function normalizePersonName(value: string): string {
  const groups = value.split('=').slice(0, 3).map((group) => {
    const parts = group.split('^').map((p) => p.replace(/\s+/g, ' ').trim());
    while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
    return parts.join('^');
  });
  while (groups.length > 0 && groups[groups.length - 1] === '') groups.pop();
  return groups.join('=');
}

const ISSUER_KEY = '00100021';

function compileAction(a: CoercionAction, path: string): Step {
  switch (a.op) {
    case 'set': {
      const t = resolveAttribute(`${path}.attribute`, a.attribute, a.vr);
      const vr = t.vr!;
      const list = a.value === null ? [] : Array.isArray(a.value) ? a.value : [a.value];
      const attr: DicomJsonAttribute | undefined = fromStrings(vr, list.map(String), [], t.key);
      return (work) => {
        if (a.onlyIfMissing && attributeStrings(work.get(t.key)).some((v) => v !== '')) return;
        work.put(t.key, attr);
      };
    }
    case 'copy': {
      const from = resolveAttribute(`${path}.from`, a.from, undefined, false);
      const to = resolveAttribute(`${path}.to`, a.to);
      return (work) => {
        const source = work.get(from.key);
        if (!source) return;
        if (source.vr === to.vr) work.put(to.key, source);
        else if (source.vr === 'SQ' || to.vr === 'SQ') work.warnings.push(`${to.key}: a sequence copies only to a sequence; left as received`);
        else {
          const next = fromStrings(to.vr!, attributeStrings(source), work.warnings, to.key);
          if (next) work.put(to.key, next);
        }
      };
    }
    case 'map': {
      const t = resolveAttribute(`${path}.attribute`, a.attribute);
      const table = new Map(Object.entries(a.table).map(([k, v]) => [a.ignoreCase ? k.trim().toUpperCase() : k.trim(), v]));
      return eachValue(t.key, t.vr, (v) => table.get(a.ignoreCase ? v.trim().toUpperCase() : v.trim()) ?? a.default ?? v);
    }
    case 'replace': {
      const t = resolveAttribute(`${path}.attribute`, a.attribute);
      const re = compilePattern(`${path}.pattern`, a.pattern, a.flags);
      const global = new RegExp(re.source, `${re.flags}g`);
      return eachValue(t.key, t.vr, (v) => v.replace(global, a.replacement));
    }
    case 'remove': {
      const t = resolveAttribute(`${path}.attribute`, a.attribute);
      return (work) => work.put(t.key, undefined);
    }
    case 'trim': {
      const t = resolveAttribute(`${path}.attribute`, a.attribute);
      return eachValue(t.key, t.vr, (v, vr) => (vr === 'PN' ? v.split('=').map((g) => g.trim()).join('=') : v.trim()));
    }
    case 'case': {
      const t = resolveAttribute(`${path}.attribute`, a.attribute);
      return eachValue(t.key, t.vr, (v) => (a.to === 'upper' ? v.toUpperCase() : v.toLowerCase()));
    }
    case 'person-name': {
      const t = resolveAttribute(`${path}.attribute`, a.attribute);
      return eachValue(t.key, 'PN', normalizePersonName);
    }
    case 'date':
    case 'time': {
      const t = resolveAttribute(`${path}.attribute`, a.attribute);
      return (work) =>
        eachValue(t.key, t.vr, (v, vr) => {
          const out = vr === 'TM' ? normalizeTime(v) : vr === 'DT' ? normalizeDateTime(v) : normalizeDate(v);
          // The value itself stays out of the warning: dates may be PHI (a birth date), and warnings are logged and kept.
          if (out === undefined) work.warnings.push(`${t.key}: not a date or time the rule recognises; left as received`);
          return out ?? v;
        })(work, {});
    }
    case 'issuer':
      return (work, ctx) => {
        const issuer = a.value ?? ctx.defaultIssuer;
        if (!issuer) return;
        if (!a.overwrite && attributeStrings(work.get(ISSUER_KEY)).some((v) => v.trim() !== '')) return;
        work.put(ISSUER_KEY, { vr: 'LO', Value: [issuer] });
      };
    case 'prefix': {
      const t = resolveAttribute(`${path}.attribute`, a.attribute);
      return eachValue(t.key, t.vr, (v) => (v.startsWith(a.prefix) ? v : `${a.prefix}${v}`));
    }
  }
}

/** A rule ready to run: conditions and actions compiled once per rule version. */
export interface CompiledRule {
  readonly ref: CoercionRuleRef;
  readonly name: string;
  readonly phase: CoercionPhase;
  readonly priority: number;
  readonly enabled: boolean;
  readonly indexOnly: boolean;
  /** Whether the rule's context conditions (AE title, kind, batch) hold: without them it cannot apply at all. */
  appliesTo(ctx: CoercionContext): boolean;
  matches(work: CoercionWork, ctx: CoercionContext): boolean;
  run(work: CoercionWork, ctx: CoercionContext): void;
}

/** Validates and compiles one rule version (throws CoercionRuleError for a broken one). */
export function compileRule(ref: CoercionRuleRef, input: unknown): CompiledRule {
  const spec: CoercionRuleSpec = validateRuleSpec(input);
  const tests = spec.conditions.map((c, i) => compileCondition(c, `conditions[${i}]`));
  const contextTests = tests.filter((_t, i) => spec.conditions[i]!.context !== undefined);
  const empty = new CoercionWork({});
  const steps = spec.actions.map((a, i) => compileAction(a, `actions[${i}]`));
  return {
    ref,
    name: spec.name,
    phase: spec.phase,
    priority: spec.priority,
    enabled: spec.enabled,
    indexOnly: spec.indexOnly === true,
    appliesTo: (ctx) => contextTests.every((t) => t(empty, ctx)),
    matches: (work, ctx) => tests.every((t) => t(work, ctx)),
    run: (work, ctx) => {
      for (const step of steps) step(work, ctx);
    },
  };
}

/** Enabled rules of one phase in the order they run (priority, then name). */
export class CoercionRuleSet {
  readonly rules: readonly CompiledRule[];

  constructor(rules: readonly CompiledRule[], phase: CoercionPhase) {
    this.rules = rules
      .filter((r) => r.enabled && r.phase === phase)
      .sort((a, b) => a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get size(): number {
    return this.rules.length;
  }

  /** Whether any rule could apply in this context (its AE title, kind, batch conditions hold), before an object is looked at. */
  anyFor(ctx: CoercionContext): boolean {
    return this.rules.some((r) => r.appliesTo(ctx));
  }

  /**
   * Runs every rule whose conditions hold, in order (a rule sees what the ones before it did).
   * Never throws for the object's sake: what cannot be coerced is reported in `warnings`.
   * `inPlace` changes `json` itself instead of a copy (ingest: a received header has a few hundred
   * attributes, and its JSON is built for this call and used only through the result).
   */
  apply(json: DicomJson, ctx: CoercionContext, options: { readonly inPlace?: boolean } = {}): CoercionResult {
    if (this.rules.length === 0) return { json, changed: {}, received: {}, overlay: {}, applied: [], warnings: [] };
    const work = new CoercionWork(json, options.inPlace === true);
    const applied: CoercionRuleRef[] = [];
    for (const rule of this.rules) {
      if (!rule.matches(work, ctx)) continue;
      work.touched = false;
      work.indexOnly = rule.indexOnly;
      rule.run(work, ctx);
      if (work.touched) applied.push(rule.ref);
    }
    const changed: Record<string, DicomJsonAttribute | null> = {};
    const received: Record<string, DicomJsonAttribute | null> = {};
    const overlay: Record<string, DicomJsonAttribute | null> = {};
    for (const [key, before] of Object.entries(work.received)) {
      const after = work.json[key];
      // A value changed and changed back is no change.
      if (attrEquals(before ?? undefined, after)) continue;
      changed[key] = after ?? null;
      received[key] = before;
      if (!work.indexOnlyKeys.has(key)) overlay[key] = after ?? null;
    }
    return { json: Object.keys(changed).length ? work.json : json, changed, received, overlay, applied, warnings: work.warnings };
  }
}
