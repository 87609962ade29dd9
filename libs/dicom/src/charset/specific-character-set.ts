import {
  GB_2312,
  ISO_IR_6,
  ISO_IR_13,
  ISO_IR_14,
  ISO_IR_100,
  ISO_IR_101,
  ISO_IR_109,
  ISO_IR_110,
  ISO_IR_126,
  ISO_IR_127,
  ISO_IR_138,
  ISO_IR_144,
  ISO_IR_148,
  ISO_IR_166,
  ISO_IR_203,
  JIS_X_0208,
  JIS_X_0212,
  KS_X_1001,
} from './code-elements.js';
import type { CodeElement } from './code-elements.js';

/** Character sets that are not ISO 2022 code elements at all (PS3.3 Table C.12-5). */
export type VariableLengthEncoding = 'utf-8' | 'gb18030' | 'gbk';

export type TermCategory =
  /** Table C.12-2: one value only, no escape sequences. */
  | 'single-byte'
  /** Table C.12-3. */
  | 'single-byte-extensions'
  /** Table C.12-4: value 2 and later only. */
  | 'multi-byte-extensions'
  /** Table C.12-5: one value only, not ISO 2022. */
  | 'multi-byte';

export interface DefinedTerm {
  readonly term: string;
  readonly category: TermCategory;
  readonly g0?: CodeElement;
  readonly g1?: CodeElement;
  readonly variable?: VariableLengthEncoding;
}

/** Specific Character Set (0008,0005) as understood, ready to decode or encode with. */
export interface SpecificCharacterSet {
  /** The values as received, with padding and stray spaces removed. */
  readonly values: readonly string[];
  /** The defined term each value was read as: '' for the default repertoire, undefined if unknown. */
  readonly terms: readonly (string | undefined)[];
  /** Set for ISO_IR 192, GB18030 and GBK: the whole value is in this encoding. */
  readonly variableLength: VariableLengthEncoding | undefined;
  /** Designations at the start of each value and after each reset point (PS3.5 6.1.2.5.3). */
  readonly initialG0: CodeElement;
  readonly initialG1: CodeElement | undefined;
  /** Every element the values declare, value 1 first (PS3.5 6.1.2.5.4 c). */
  readonly codeElements: readonly CodeElement[];
  /** What GR bytes are read as when nothing is designated to G1 (a lenient reading, see decode). */
  readonly fallbackG1: CodeElement;
  /** Problems with the values; none means the attribute was valid. */
  readonly warnings: readonly string[];
  /** The values as one DICOM string, for messages. */
  readonly label: string;
}

function define(
  term: string,
  category: TermCategory,
  g0: CodeElement | undefined,
  g1: CodeElement | undefined,
  variable?: VariableLengthEncoding,
): DefinedTerm {
  return {
    term,
    category,
    ...(g0 ? { g0 } : {}),
    ...(g1 ? { g1 } : {}),
    ...(variable ? { variable } : {}),
  };
}

/** The 96-character G1 sets, by ISO-IR number (PS3.3 Tables C.12-2 and C.12-3). */
const RIGHT_HALVES: ReadonlyArray<readonly [number, CodeElement]> = [
  [100, ISO_IR_100],
  [101, ISO_IR_101],
  [109, ISO_IR_109],
  [110, ISO_IR_110],
  [144, ISO_IR_144],
  [127, ISO_IR_127],
  [126, ISO_IR_126],
  [138, ISO_IR_138],
  [148, ISO_IR_148],
  [203, ISO_IR_203],
  [166, ISO_IR_166],
];

const TERMS: ReadonlyMap<string, DefinedTerm> = new Map(
  [
    // Table C.12-2: single-byte without code extensions (G0 is ASCII except for ISO_IR 13).
    ...RIGHT_HALVES.map(([ir, g1]) => define(`ISO_IR ${ir}`, 'single-byte', ISO_IR_6, g1)),
    define('ISO_IR 13', 'single-byte', ISO_IR_14, ISO_IR_13),
    // Table C.12-3: single-byte with code extensions.
    define('ISO 2022 IR 6', 'single-byte-extensions', ISO_IR_6, undefined),
    ...RIGHT_HALVES.map(([ir, g1]) => define(`ISO 2022 IR ${ir}`, 'single-byte-extensions', ISO_IR_6, g1)),
    define('ISO 2022 IR 13', 'single-byte-extensions', ISO_IR_14, ISO_IR_13),
    // Table C.12-4: multi-byte with code extensions.
    define('ISO 2022 IR 87', 'multi-byte-extensions', JIS_X_0208, undefined),
    define('ISO 2022 IR 159', 'multi-byte-extensions', JIS_X_0212, undefined),
    define('ISO 2022 IR 149', 'multi-byte-extensions', undefined, KS_X_1001),
    define('ISO 2022 IR 58', 'multi-byte-extensions', undefined, GB_2312),
    // Table C.12-5: multi-byte without code extensions.
    define('ISO_IR 192', 'multi-byte', undefined, undefined, 'utf-8'),
    define('GB18030', 'multi-byte', undefined, undefined, 'gb18030'),
    define('GBK', 'multi-byte', undefined, undefined, 'gbk'),
  ].map((d) => [d.term, d] as const),
);

/** Every defined term of PS3.3 C.12.1.1.2, for callers that validate or offer a choice. */
export const DEFINED_TERMS: readonly string[] = [...TERMS.keys()];

/** Spelling-insensitive key: "ISO_IR_100", "iso-ir 100" and "ISO IR100" all become "ISOIR100". */
const squash = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, '');

const BY_SQUASHED = new Map<string, DefinedTerm>([...TERMS.values()].map((d) => [squash(d.term), d] as const));
// Names seen in the wild for defined terms, none of them defined themselves.
BY_SQUASHED.set('UTF8', TERMS.get('ISO_IR 192')!);
BY_SQUASHED.set('ISOIR6', TERMS.get('ISO 2022 IR 6')!);
// A bare "GB2312" labels EUC-CN bytes without escape sequences; GBK decodes exactly those.
BY_SQUASHED.set('GB2312', TERMS.get('GBK')!);

/** A term's counterpart among the other table (ISO_IR 100 <-> ISO 2022 IR 100), if any. */
function counterpart(d: DefinedTerm, category: TermCategory): DefinedTerm | undefined {
  const ir = /(\d+)$/.exec(d.term)?.[1];
  if (ir === undefined) return undefined;
  const t = TERMS.get(category === 'single-byte-extensions' ? `ISO 2022 IR ${ir}` : `ISO_IR ${ir}`);
  return t?.category === category ? t : undefined;
}

/** Strip what writers leave around a value: spaces (PS3.5 6.2 CS padding) and NULs. */
const clean = (v: string) => v.replace(/^[\s\0]+|[\s\0]+$/g, '').replace(/\s+/g, ' ');

type Resolved = { readonly kind: 'default' } | { readonly kind: 'term'; readonly def: DefinedTerm } | { readonly kind: 'unknown' };

function resolve(value: string, index: number, warnings: string[]): Resolved {
  const n = index + 1;
  if (value === '') {
    if (index > 0) warnings.push(`Specific Character Set value ${n} is empty; ignored`);
    return { kind: 'default' };
  }
  const exact = TERMS.get(value);
  if (exact) return { kind: 'term', def: exact };
  const near = BY_SQUASHED.get(squash(value));
  if (near) {
    warnings.push(`Specific Character Set value ${n} "${value}" is not a defined term; read as "${near.term}"`);
    return { kind: 'term', def: near };
  }
  warnings.push(
    n === 1
      ? `Specific Character Set value 1 "${value}" is not a defined term; bytes read as ISO 8859-1 (Latin-1)`
      : `Specific Character Set value ${n} "${value}" is not a defined term; ignored`,
  );
  return { kind: 'unknown' };
}

function build(
  values: readonly string[],
  terms: readonly (string | undefined)[],
  warnings: readonly string[],
  initialG0: CodeElement,
  initialG1: CodeElement | undefined,
  declared: readonly (CodeElement | undefined)[],
  variableLength?: VariableLengthEncoding,
): SpecificCharacterSet {
  const codeElements: CodeElement[] = [];
  for (const e of [initialG0, initialG1, ...declared]) if (e && !codeElements.includes(e)) codeElements.push(e);
  return {
    values,
    terms,
    variableLength,
    initialG0,
    initialG1,
    codeElements,
    fallbackG1: codeElements.find((e) => e.register === 'G1') ?? ISO_IR_100,
    warnings,
    label: values.length === 0 ? '(default repertoire)' : values.join('\\'),
  };
}

/**
 * Interpret the values of Specific Character Set (0008,0005) as received (PS3.3 C.12.1.1.2,
 * PS3.5 6.1.2.5.4). Never throws: anything unrecognised is reported in `warnings` and read in
 * the most useful way (an unknown value 1 as Latin-1, an unknown later value ignored).
 */
export function interpretSpecificCharacterSet(input: readonly string[] | undefined): SpecificCharacterSet {
  const values = (input ?? []).map(clean);
  // A missing attribute, or one empty value, means the default repertoire (PS3.5 6.1.2.5.4 a).
  if (values.length === 0 || (values.length === 1 && values[0] === '')) {
    return build(values.length === 0 ? [] : [''], values.length === 0 ? [] : [''], [], ISO_IR_6, undefined, []);
  }
  const warnings: string[] = [];
  const resolved = values.map((v, i) => resolve(v, i, warnings));
  const terms = resolved.map((r) => (r.kind === 'term' ? r.def.term : r.kind === 'default' ? '' : undefined));
  const first = resolved[0]!;

  // UTF-8, GB18030 and GBK admit no code extensions and must be alone (PS3.5 6.1.2.5.4 d).
  if (first.kind === 'term' && first.def.variable) {
    if (values.length > 1) warnings.push(`${first.def.term} cannot be combined with other character sets; values after it ignored`);
    return build(values, terms, warnings, ISO_IR_6, undefined, [], first.def.variable);
  }

  const multiValued = values.length > 1;
  const declared: (CodeElement | undefined)[] = [];
  resolved.forEach((r, i) => {
    if (r.kind !== 'term' || i === 0) return;
    const d = r.def;
    if (d.variable) {
      warnings.push(`${d.term} cannot be combined with other character sets (value ${i + 1} ignored)`);
      return;
    }
    if (d.category === 'single-byte') {
      const ext = counterpart(d, 'single-byte-extensions');
      warnings.push(`"${d.term}" is not for code extensions (value ${i + 1}); read as "${ext?.term ?? d.term}"`);
    }
    declared.push(d.g0, d.g1);
  });

  let initialG0: CodeElement = ISO_IR_6;
  let initialG1: CodeElement | undefined;
  if (first.kind === 'unknown') {
    initialG1 = ISO_IR_100;
  } else if (first.kind === 'term') {
    const d = first.def;
    if (d.category === 'multi-byte-extensions') {
      // Table C.12-4 sets are for value 2 onwards: an ideographic G0 as the initial state would
      // hide every delimiter. Read it as "\<term>", which is what such senders mean.
      warnings.push(`"${d.term}" is not allowed as value 1; the default repertoire is assumed for value 1`);
      declared.unshift(d.g0, d.g1);
    } else {
      if (d.category === 'single-byte' && multiValued) {
        const ext = counterpart(d, 'single-byte-extensions');
        warnings.push(`"${d.term}" is not for code extensions (value 1); read as "${ext?.term ?? d.term}"`);
      }
      initialG0 = d.g0 ?? ISO_IR_6;
      initialG1 = d.g1;
    }
  }
  return build(values, terms, warnings, initialG0, initialG1, declared);
}

/** Interpretations are few and reused for every element of every instance: keep them. */
const cache = new Map<string, SpecificCharacterSet>();
const CACHE_LIMIT = 256;

/** Like interpretSpecificCharacterSet, but accepts an interpretation too, and caches. */
export function resolveSpecificCharacterSet(
  input: readonly string[] | SpecificCharacterSet | undefined,
): SpecificCharacterSet {
  if (input !== undefined && !Array.isArray(input)) return input as SpecificCharacterSet;
  const values = input as readonly string[] | undefined;
  const key = values === undefined ? '' : values.join('\\') + `|${values.length}`;
  let cs = cache.get(key);
  if (!cs) {
    cs = interpretSpecificCharacterSet(values);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(key, cs);
  }
  return cs;
}
