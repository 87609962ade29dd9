/**
 * Person Name (PN) structure, PS3.5 6.2.1: up to three component groups separated by '='
 * (alphabetic, ideographic, phonetic), each of up to five components separated by '^'.
 * These work on one decoded value; split a multi-valued field on '\\' first (splitValues).
 */

export interface PersonName {
  readonly alphabetic?: string;
  readonly ideographic?: string;
  readonly phonetic?: string;
}

export interface PersonNameComponents {
  readonly familyName?: string;
  readonly givenName?: string;
  readonly middleName?: string;
  readonly namePrefix?: string;
  readonly nameSuffix?: string;
}

const GROUPS = ['alphabetic', 'ideographic', 'phonetic'] as const;
const COMPONENTS = ['familyName', 'givenName', 'middleName', 'namePrefix', 'nameSuffix'] as const;

/**
 * Split a PN value into its component groups. Trailing empty groups are dropped (they are
 * only delimiters); an empty group before a non-empty one is kept as '' so the others keep
 * their meaning. PS3.5 6.2.1 allows three groups: anything after a third '=' is ignored.
 */
export function parsePersonName(decoded: string): PersonName {
  const groups = decoded.split('=').slice(0, 3);
  while (groups.length > 0 && groups[groups.length - 1] === '') groups.pop();
  const name: { -readonly [K in keyof PersonName]: string } = {};
  groups.forEach((g, i) => {
    name[GROUPS[i]!] = g;
  });
  return name;
}

/** The inverse of parsePersonName: groups joined with '=', without trailing empty groups. */
export function formatPersonName(name: PersonName): string {
  const groups = GROUPS.map((g) => name[g] ?? '');
  while (groups.length > 0 && groups[groups.length - 1] === '') groups.pop();
  return groups.join('=');
}

/** The components of one group, split on '^', trailing empty components dropped. */
export function splitNameComponents(group: string): string[] {
  const parts = group.split('^');
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/**
 * The components of one group by name (PS3.5 6.2.1: family, given, middle, prefix, suffix).
 * Empty components are left out; a sixth or later component (not allowed) is ignored.
 */
export function parseNameComponents(group: string): PersonNameComponents {
  const result: { -readonly [K in keyof PersonNameComponents]: string } = {};
  splitNameComponents(group)
    .slice(0, 5)
    .forEach((c, i) => {
      if (c !== '') result[COMPONENTS[i]!] = c;
    });
  return result;
}

/** The inverse of parseNameComponents: components joined with '^', trailing empties dropped. */
export function formatNameComponents(components: PersonNameComponents): string {
  const parts = COMPONENTS.map((c) => components[c] ?? '');
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.join('^');
}
