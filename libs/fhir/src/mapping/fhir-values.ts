/**
 * DICOM values in their FHIR forms (pure): dates and times, person names, identifier systems.
 */

/** `urn:oid:` systems and values (FHIR R4 datatypes 2.24.0.14: an OID as a URI). */
export const OID_PATTERN = /^[0-2](\.(0|[1-9][0-9]*))+$/;

/**
 * The FHIR identifier system of an issuer of patient ID (or accession issuer): the configured
 * one, else `urn:oid:` for an OID, the issuer itself when it is a URI, else a urn naming it.
 */
export function issuerSystem(issuer: string, systems: Readonly<Record<string, string>>): string | undefined {
  if (!issuer) return systems[''];
  const configured = systems[issuer];
  if (configured) return configured;
  if (OID_PATTERN.test(issuer)) return `urn:oid:${issuer}`;
  if (/^[a-z][a-z0-9+.-]*:\S+$/i.test(issuer)) return issuer;
  return `urn:vna:issuer:${encodeURIComponent(issuer)}`;
}

/** The issuer a system names (the inverse of issuerSystem), for identifier searches. */
export function systemIssuer(system: string, systems: Readonly<Record<string, string>>): string {
  for (const [issuer, s] of Object.entries(systems)) if (s === system) return issuer;
  if (system.startsWith('urn:oid:')) return system.slice('urn:oid:'.length);
  if (system.startsWith('urn:vna:issuer:')) return decodeURIComponent(system.slice('urn:vna:issuer:'.length));
  return system;
}

/** DICOM DA (YYYYMMDD) as a FHIR date; undefined when malformed. */
export function fhirDate(da: string | null | undefined): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da?.trim() ?? '');
  return m ? `${m[1]}-${m[2]}-${m[3]}` : undefined;
}

/**
 * DICOM DA + TM as a FHIR dateTime. A dateTime with a time needs a time zone (FHIR R4 2.24.0.1);
 * DICOM times are local and the offset is rarely sent, so without one only the date is given.
 */
export function fhirDateTime(da: string | null | undefined, tm: string | null | undefined, offset?: string | null): string | undefined {
  const date = fhirDate(da);
  if (!date) return undefined;
  const t = /^(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?$/.exec(tm?.trim() ?? '');
  const tz = /^[+-]\d{4}$/.exec(offset?.trim() ?? '')?.[0];
  if (!t || !tz) return date;
  return `${date}T${t[1]}:${t[2] ?? '00'}:${t[3] ?? '00'}${t[4] ?? ''}${tz.slice(0, 3)}:${tz.slice(3)}`;
}

/** A DICOM PN (alphabetic group, `^`-separated components) as a FHIR HumanName. */
export function humanName(pn: string | null | undefined): { family?: string; given?: string[]; prefix?: string[]; suffix?: string[]; text: string } | undefined {
  const value = pn?.trim();
  if (!value) return undefined;
  const [family, given, middle, prefix, suffix] = value.split('^').map((x) => x.trim());
  const givens = [given, middle].filter((x): x is string => !!x);
  const text = [prefix, ...givens, family, suffix].filter(Boolean).join(' ');
  return {
    ...(family ? { family } : {}),
    ...(givens.length ? { given: givens } : {}),
    ...(prefix ? { prefix: [prefix] } : {}),
    ...(suffix ? { suffix: [suffix] } : {}),
    text,
  };
}

/** DICOM Patient's Sex (M, F, O) as FHIR AdministrativeGender. */
export function gender(sex: string | null | undefined): 'male' | 'female' | 'other' | 'unknown' {
  switch (sex?.trim().toUpperCase()) {
    case 'M':
      return 'male';
    case 'F':
      return 'female';
    case 'O':
      return 'other';
    default:
      return 'unknown';
  }
}
