import { lookupTag, tagOfKeyword } from '../dictionary.js';
import { isPrivateTag, parseTagHex } from '../tags.js';
import {
  COERCION_OPS,
  type CoercionAction,
  type CoercionCondition,
  type CoercionPhase,
  CoercionRuleError,
  type CoercionRuleSpec,
} from './coercion-rule.js';

/** A resolved attribute: its tag and the VR a new value gets (the dictionary's, or the rule's own for private tags). */
export interface ResolvedAttribute {
  readonly tag: number;
  readonly key: string;
  readonly vr: string | undefined;
}

const KNOWN_VRS = new Set(['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV']);
/**
 * What a rule must not touch: the object's identity (SOP Class, SOP Instance, Study and Series
 * Instance UID: versions, de-duplication, bulk data URIs and the hierarchy key on them; moving a
 * series is a correction, libs/corrections), Specific Character Set (the writer's business) and
 * the pixel data description.
 */
const FORBIDDEN = new Set([0x00080016, 0x00080018, 0x0020000d, 0x0020000e, 0x00080005, 0x7fe00010, 0x00280010, 0x00280011, 0x00280100, 0x00280101, 0x00280102, 0x00280002, 0x00280004, 0x00280008]);
const MAX_PATTERN = 1000;
const REGEX_FLAGS = /^[imsu]*$/;

function hexKey(tag: number): string {
  return (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

/** A keyword (`PatientName`) or tag (`00100010`, `(0010,0010)`) to a tag, or a CoercionRuleError. */
export function resolveAttribute(path: string, name: unknown, vrOverride?: unknown, write = true): ResolvedAttribute {
  if (typeof name !== 'string' || name.trim() === '') throw new CoercionRuleError(path, 'must name an attribute (a keyword such as PatientName, or a tag such as 00100010)');
  const compact = name.trim().replace(/[(),\s]/g, '');
  let tag: number | undefined;
  if (/^[0-9A-Fa-f]{8}$/.test(compact)) tag = parseTagHex(compact);
  else tag = tagOfKeyword(name.trim());
  if (tag === undefined) throw new CoercionRuleError(path, `unknown attribute "${name}" (not a DICOM keyword or an 8-digit tag)`);
  if (tag >>> 16 === 0x0002 || (tag & 0xffff) === 0) throw new CoercionRuleError(path, `"${name}" is a meta header or group length element: rules work on the dataset`);
  if (write && FORBIDDEN.has(tag >>> 0)) throw new CoercionRuleError(path, `"${name}" identifies the object or describes its character set or pixel data: a rule may not change it`);
  if (vrOverride !== undefined && (typeof vrOverride !== 'string' || !KNOWN_VRS.has(vrOverride))) {
    throw new CoercionRuleError(`${path.replace(/\.[a-z]+$/, '')}.vr`, `"${String(vrOverride)}" is not a DICOM VR`);
  }
  const dictionaryVr = isPrivateTag(tag) ? undefined : lookupTag(tag)?.vr;
  return { tag: tag >>> 0, key: hexKey(tag), vr: (vrOverride as string | undefined) ?? dictionaryVr };
}

/** Compiles a regular expression or refuses it with the reason the engine gives. */
export function compilePattern(path: string, pattern: unknown, flags: unknown, extraFlags = ''): RegExp {
  if (typeof pattern !== 'string' || pattern === '') throw new CoercionRuleError(path, 'must be a non-empty regular expression');
  if (pattern.length > MAX_PATTERN) throw new CoercionRuleError(path, `a regular expression of at most ${MAX_PATTERN} characters`);
  if (flags !== undefined && (typeof flags !== 'string' || !REGEX_FLAGS.test(flags))) {
    throw new CoercionRuleError(path.replace(/[a-z]+$/i, 'flags'), 'flags may only be i, m, s and u');
  }
  try {
    return new RegExp(pattern, [...new Set(`${(flags as string | undefined) ?? ''}${extraFlags}`)].join(''));
  } catch (e) {
    throw new CoercionRuleError(path, `invalid regular expression: ${(e as Error).message}`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(path: string, o: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new CoercionRuleError(`${path}.${k}`, `unknown property (allowed: ${allowed.join(', ')})`);
}

function text(path: string, v: unknown, { empty = false, max = 1024 } = {}): string {
  if (typeof v !== 'string' || (!empty && v === '')) throw new CoercionRuleError(path, empty ? 'must be a string' : 'must be a non-empty string');
  if (v.length > max) throw new CoercionRuleError(path, `at most ${max} characters`);
  return v;
}

function optionalBool(path: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'boolean') throw new CoercionRuleError(path, 'must be true or false');
}

function validateCondition(path: string, c: unknown): CoercionCondition {
  if (!isRecord(c)) throw new CoercionRuleError(path, 'a condition is an object');
  onlyKeys(path, c, ['attribute', 'context', 'equals', 'matches', 'flags', 'ignoreCase', 'present', 'negate']);
  if ((c['attribute'] === undefined) === (c['context'] === undefined)) throw new CoercionRuleError(path, 'a condition names either an attribute or a context (aet, sourceKind, batch)');
  if (c['attribute'] !== undefined) resolveAttribute(`${path}.attribute`, c['attribute'], undefined, false);
  if (c['context'] !== undefined && !['aet', 'sourceKind', 'batch'].includes(c['context'] as string)) throw new CoercionRuleError(`${path}.context`, 'must be aet, sourceKind or batch');
  const tests = ['equals', 'matches', 'present'].filter((k) => c[k] !== undefined);
  if (tests.length !== 1) throw new CoercionRuleError(path, 'a condition has exactly one of equals, matches, present');
  const equals = c['equals'];
  if (equals !== undefined) {
    const list = Array.isArray(equals) ? equals : [equals];
    if (list.length === 0 || list.some((v) => typeof v !== 'string')) throw new CoercionRuleError(`${path}.equals`, 'a string or a non-empty list of strings');
  }
  if (c['matches'] !== undefined) compilePattern(`${path}.matches`, c['matches'], c['flags']);
  else if (c['flags'] !== undefined) throw new CoercionRuleError(`${path}.flags`, 'flags go with matches');
  optionalBool(`${path}.present`, c['present']);
  optionalBool(`${path}.ignoreCase`, c['ignoreCase']);
  optionalBool(`${path}.negate`, c['negate']);
  return c as unknown as CoercionCondition;
}

function validateAction(path: string, a: unknown): CoercionAction {
  if (!isRecord(a)) throw new CoercionRuleError(path, 'an action is an object');
  const op = a['op'];
  if (typeof op !== 'string' || !(COERCION_OPS as readonly string[]).includes(op)) throw new CoercionRuleError(`${path}.op`, `must be one of ${COERCION_OPS.join(', ')}`);
  const attr = (key = 'attribute', vr?: unknown, write = true) => resolveAttribute(`${path}.${key}`, a[key], vr, write);
  switch (op) {
    case 'set': {
      onlyKeys(path, a, ['op', 'attribute', 'value', 'vr', 'onlyIfMissing']);
      const target = attr('attribute', a['vr']);
      if (!target.vr) throw new CoercionRuleError(`${path}.vr`, `the VR of ${String(a['attribute'])} is not in the dictionary: give it`);
      if (target.vr === 'SQ' || /^O[BDFLVW]$|^UN$/.test(target.vr)) throw new CoercionRuleError(`${path}.attribute`, `set writes text and numbers, not ${target.vr}`);
      const v = a['value'];
      const list = Array.isArray(v) ? v : [v];
      if (!('value' in a) || list.some((x) => x !== null && typeof x !== 'string' && typeof x !== 'number')) {
        throw new CoercionRuleError(`${path}.value`, 'a string, a number, a list of them, or null (empty)');
      }
      if (['IS', 'DS', 'US', 'SS', 'UL', 'SL', 'FL', 'FD', 'SV', 'UV'].includes(target.vr) && list.some((x) => x !== null && !Number.isFinite(Number(x)))) {
        throw new CoercionRuleError(`${path}.value`, `${target.vr} values must be numbers`);
      }
      optionalBool(`${path}.onlyIfMissing`, a['onlyIfMissing']);
      break;
    }
    case 'copy': {
      onlyKeys(path, a, ['op', 'from', 'to']);
      attr('from', undefined, false);
      const to = attr('to');
      if (!to.vr) throw new CoercionRuleError(`${path}.to`, 'the target must be a dictionary attribute');
      break;
    }
    case 'map': {
      onlyKeys(path, a, ['op', 'attribute', 'table', 'ignoreCase', 'default']);
      attr();
      const table = a['table'];
      if (!isRecord(table) || Object.keys(table).length === 0) throw new CoercionRuleError(`${path}.table`, 'an object of from -> to values, not empty');
      for (const [k, v] of Object.entries(table)) if (typeof v !== 'string') throw new CoercionRuleError(`${path}.table.${k}`, 'must be a string');
      if (a['default'] !== undefined) text(`${path}.default`, a['default'], { empty: true });
      optionalBool(`${path}.ignoreCase`, a['ignoreCase']);
      break;
    }
    case 'replace':
      onlyKeys(path, a, ['op', 'attribute', 'pattern', 'replacement', 'flags']);
      attr();
      compilePattern(`${path}.pattern`, a['pattern'], a['flags']);
      text(`${path}.replacement`, a['replacement'], { empty: true });
      break;
    case 'case':
      onlyKeys(path, a, ['op', 'attribute', 'to']);
      attr();
      if (a['to'] !== 'upper' && a['to'] !== 'lower') throw new CoercionRuleError(`${path}.to`, 'must be upper or lower');
      break;
    case 'person-name': {
      onlyKeys(path, a, ['op', 'attribute']);
      const t = attr();
      if (t.vr && t.vr !== 'PN') throw new CoercionRuleError(`${path}.attribute`, `person-name works on PN attributes, not ${t.vr}`);
      break;
    }
    case 'date': {
      onlyKeys(path, a, ['op', 'attribute']);
      const t = attr();
      if (t.vr && t.vr !== 'DA' && t.vr !== 'DT') throw new CoercionRuleError(`${path}.attribute`, `date works on DA and DT attributes, not ${t.vr}`);
      break;
    }
    case 'time': {
      onlyKeys(path, a, ['op', 'attribute']);
      const t = attr();
      if (t.vr && t.vr !== 'TM') throw new CoercionRuleError(`${path}.attribute`, `time works on TM attributes, not ${t.vr}`);
      break;
    }
    case 'issuer':
      onlyKeys(path, a, ['op', 'value', 'overwrite']);
      if (a['value'] !== undefined) text(`${path}.value`, a['value'], { max: 64 });
      optionalBool(`${path}.overwrite`, a['overwrite']);
      break;
    case 'prefix':
      onlyKeys(path, a, ['op', 'attribute', 'prefix']);
      attr();
      text(`${path}.prefix`, a['prefix'], { max: 64 });
      break;
    case 'remove':
    case 'trim':
      onlyKeys(path, a, ['op', 'attribute']);
      attr();
      break;
  }
  return a as unknown as CoercionAction;
}

/**
 * Checks a rule as received (untrusted JSON) and returns it typed; a CoercionRuleError names the
 * first problem by its path, so a broken rule is refused at save time rather than failing at ingest.
 */
export function validateRuleSpec(input: unknown): CoercionRuleSpec {
  if (!isRecord(input)) throw new CoercionRuleError('rule', 'a rule is a JSON object');
  onlyKeys('rule', input, ['name', 'description', 'phase', 'enabled', 'priority', 'indexOnly', 'conditions', 'actions']);
  const name = text('name', input['name'], { max: 128 });
  if (input['description'] !== undefined) text('description', input['description'], { empty: true, max: 2000 });
  const phase = input['phase'];
  if (phase !== 'ingest' && phase !== 'egress') throw new CoercionRuleError('phase', 'must be ingest or egress');
  optionalBool('enabled', input['enabled']);
  optionalBool('indexOnly', input['indexOnly']);
  if (input['indexOnly'] === true && phase !== 'ingest') throw new CoercionRuleError('indexOnly', 'only an ingest rule changes the index alone');
  const priority = input['priority'] ?? 100;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > 100000) throw new CoercionRuleError('priority', 'an integer from 0 to 100000');
  const conditions = input['conditions'] ?? [];
  if (!Array.isArray(conditions)) throw new CoercionRuleError('conditions', 'a list of conditions (all must hold)');
  const actions = input['actions'];
  if (!Array.isArray(actions) || actions.length === 0) throw new CoercionRuleError('actions', 'a non-empty list of actions');
  if (actions.length > 200 || conditions.length > 50) throw new CoercionRuleError('rule', 'at most 50 conditions and 200 actions');
  return {
    name,
    ...(input['description'] !== undefined ? { description: input['description'] as string } : {}),
    phase: phase as CoercionPhase,
    enabled: (input['enabled'] as boolean | undefined) ?? true,
    priority,
    ...(input['indexOnly'] === true ? { indexOnly: true } : {}),
    conditions: conditions.map((c, i) => validateCondition(`conditions[${i}]`, c)),
    actions: actions.map((a, i) => validateAction(`actions[${i}]`, a)),
  };
}
