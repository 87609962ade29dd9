/**
 * Attribute coercion rules: the model a rule is saved in (JSON, validated at save time) and what a
 * rule may say. Pure data; `compileRules` turns it into something quick to evaluate.
 *
 * A rule applies at ingest (per source: calling AE title, STOW client, import batch) or at egress
 * (per destination AE title). Its conditions must all hold; its actions run in order over the
 * object's DICOM JSON (PS3.18 F), text already decoded to Unicode.
 */

export type CoercionPhase = 'ingest' | 'egress';

/** The context an object is coerced in: who sent it (ingest) or where it goes (egress). */
export interface CoercionContext {
  /** Calling AE title (DIMSE), API key name (STOW), batch name (import), or the destination AE title (egress). */
  readonly aet?: string;
  /** 'dimse', 'stow', 'import', or 'dicomweb' / 'dimse' for egress. */
  readonly sourceKind?: string;
  /** The import batch a migration named (kind 'import'). */
  readonly batch?: string;
  /** The issuer a missing IssuerOfPatientID takes for this source (configuration), when the rule names none. */
  readonly defaultIssuer?: string;
}

/**
 * One condition. `attribute` (a keyword such as `Manufacturer` or a tag as 8 hex digits) tests the
 * object; `context` tests who sent it or where it goes (`aet`, `sourceKind`, `batch`). `equals` (one value or a list) compares
 * exactly, `matches` is a regular expression, `present` tests that the attribute has a value;
 * `negate` inverts the outcome. Attributes with several values match when any value does.
 */
export interface CoercionCondition {
  readonly attribute?: string;
  readonly context?: 'aet' | 'sourceKind' | 'batch';
  readonly equals?: string | readonly string[];
  readonly matches?: string;
  /** Regular expression flags for `matches` (i, u, s, m). */
  readonly flags?: string;
  readonly ignoreCase?: boolean;
  readonly present?: boolean;
  readonly negate?: boolean;
}

export type CoercionAction =
  | { readonly op: 'set'; readonly attribute: string; readonly value: string | number | readonly (string | number)[] | null; readonly vr?: string; readonly onlyIfMissing?: boolean }
  | { readonly op: 'copy'; readonly from: string; readonly to: string }
  | { readonly op: 'map'; readonly attribute: string; readonly table: Readonly<Record<string, string>>; readonly ignoreCase?: boolean; readonly default?: string }
  | { readonly op: 'replace'; readonly attribute: string; readonly pattern: string; readonly replacement: string; readonly flags?: string }
  | { readonly op: 'remove'; readonly attribute: string }
  | { readonly op: 'trim'; readonly attribute: string }
  | { readonly op: 'case'; readonly attribute: string; readonly to: 'upper' | 'lower' }
  | { readonly op: 'person-name'; readonly attribute: string }
  | { readonly op: 'date'; readonly attribute: string }
  | { readonly op: 'time'; readonly attribute: string }
  | { readonly op: 'issuer'; readonly value?: string; readonly overwrite?: boolean }
  | { readonly op: 'prefix'; readonly attribute: string; readonly prefix: string };

export type CoercionOp = CoercionAction['op'];

export const COERCION_OPS: readonly CoercionOp[] = ['set', 'copy', 'map', 'replace', 'remove', 'trim', 'case', 'person-name', 'date', 'time', 'issuer', 'prefix'];

/** A rule as saved (one version of it). */
export interface CoercionRuleSpec {
  readonly name: string;
  readonly description?: string;
  readonly phase: CoercionPhase;
  readonly enabled: boolean;
  /** Lower runs first; rules of equal priority run by name. */
  readonly priority: number;
  /**
   * Ingest only: the change is for the index (search) and is not laid over objects on their way
   * out; a receiving system still gets the value as sent (vendor software may key on it).
   */
  readonly indexOnly?: boolean;
  readonly conditions: readonly CoercionCondition[];
  readonly actions: readonly CoercionAction[];
}

/** A saved rule's identity: which version of which rule touched an object. */
export interface CoercionRuleRef {
  readonly id: string;
  readonly version: number;
}

/** A rule that cannot be saved, with the path of the offending part (`actions[1].pattern`). */
export class CoercionRuleError extends Error {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = 'CoercionRuleError';
  }
}
