import { type DicomJson, type DicomJsonAttribute, type DicomJsonPersonName, Tag, tagToHex } from '#vna/dicom';
import { type PersonNameGroups, type RegistryIdentifier, type RegistryPatientState } from './registry.model.js';

/** (0010,0022) Type of Patient ID, in OtherPatientIDsSequence items. */
const TYPE_OF_PATIENT_ID = '00100022';

export type RegistryLink = 'identity' | 'manual';

/** What an index `patient` row says about its patient now (the columns the registry maintains). */
export interface RowState {
  readonly registryFk: string | null;
  readonly registryLink: RegistryLink | null;
  readonly currentPatientId: string;
  readonly currentIssuer: string;
  readonly nameAlphabetic: string;
  readonly nameIdeographic: string;
  readonly namePhonetic: string;
  readonly birthDate: string | null;
  readonly sex: string | null;
  /** DICOM JSON attributes laid over the received ones on query and on retrieve. */
  readonly overlay: DicomJson;
}

/** An index patient row as received: the identity and attributes its objects arrived with. */
export interface ReceivedPatient {
  readonly patientId: string;
  /** As received ('' when the header had no IssuerOfPatientID). */
  readonly issuer: string;
  readonly attributes: DicomJson;
}

/** The issuer an identity belongs to: an empty one is the configured default issuer. */
export function effectiveIssuer(issuer: string, defaultIssuer: string): string {
  return issuer === '' ? defaultIssuer : issuer;
}

/** DICOM Patient's Birth Date (DA) from a registry date: only a full YYYYMMDD is a DA. */
export function birthDateToDa(date: string | null): string | null {
  return date && /^\d{8}$/.test(date) ? date : null;
}

/** DICOM Patient's Sex (M, F, O) from HL7 administrative sex (table 0001); unknown stays unknown. */
export function sexToDicom(sex: string | null): string | null {
  const v = (sex ?? '').trim().toUpperCase();
  if (v === 'M' || v === 'F' || v === 'O') return v;
  if (v === 'A' || v === 'N') return 'O';
  return null;
}

function personName(name: PersonNameGroups): DicomJsonPersonName | undefined {
  const pn: DicomJsonPersonName = {};
  if (name.alphabetic) pn.Alphabetic = name.alphabetic;
  if (name.ideographic) pn.Ideographic = name.ideographic;
  if (name.phonetic) pn.Phonetic = name.phonetic;
  return Object.keys(pn).length ? pn : undefined;
}

const attr = (vr: string, value: unknown): DicomJsonAttribute => (value === null || value === undefined || value === '' ? { vr } : { vr, Value: [value] });

/**
 * The identifier a row shows: the patient's identifier in the row's own issuer (so a row received
 * under HOSP-A shows the HOSP-A identifier), else the primary one. Active identifiers only.
 */
export function currentIdentifier(patient: RegistryPatientState, rowIssuer: string): RegistryIdentifier | undefined {
  const active = [...patient.identifiers].filter((i) => i.status === 'active').sort((a, b) => a.position - b.position);
  return active.find((i) => i.issuer === rowIssuer) ?? active[0];
}

/**
 * The state of a row linked to a registry patient (`patient`: the END of the row's merge chain,
 * the record whose identity it now carries): current identifier in the row's issuer, the
 * registry's demographics, and the overlay with the same (empty attributes where the registry
 * knows no value, so that a received value does not show through), other identifiers in
 * OtherPatientIDsSequence.
 */
export function linkedRowState(
  row: ReceivedPatient,
  patient: RegistryPatientState,
  link: { readonly registryFk: string; readonly registryLink: RegistryLink },
  defaultIssuer: string,
): RowState {
  const current = currentIdentifier(patient, effectiveIssuer(row.issuer, defaultIssuer));
  if (!current) return { ...receivedRowState(row), registryFk: link.registryFk, registryLink: link.registryLink };
  const others = [...patient.identifiers]
    .filter((i) => i.status === 'active' && !(i.patientId === current.patientId && i.issuer === current.issuer))
    .sort((a, b) => a.position - b.position);
  const birthDate = birthDateToDa(patient.birthDate);
  const sex = sexToDicom(patient.sex);
  const pn = personName(patient.name);
  const overlay: DicomJson = {
    [tagToHex(Tag.PatientName)]: pn ? { vr: 'PN', Value: [pn] } : { vr: 'PN' },
    [tagToHex(Tag.PatientID)]: attr('LO', current.patientId),
    [tagToHex(Tag.IssuerOfPatientID)]: attr('LO', current.issuer),
    [tagToHex(Tag.PatientBirthDate)]: attr('DA', birthDate),
    [tagToHex(Tag.PatientSex)]: attr('CS', sex),
    [tagToHex(Tag.OtherPatientIDsSequence)]: {
      vr: 'SQ',
      Value: others.map((i) => ({
        [tagToHex(Tag.PatientID)]: attr('LO', i.patientId),
        [tagToHex(Tag.IssuerOfPatientID)]: attr('LO', i.issuer),
        [TYPE_OF_PATIENT_ID]: attr('CS', 'TEXT'),
      })),
    },
  };
  return {
    registryFk: link.registryFk,
    registryLink: link.registryLink,
    currentPatientId: current.patientId,
    currentIssuer: current.issuer,
    nameAlphabetic: patient.name.alphabetic,
    nameIdeographic: patient.name.ideographic,
    namePhonetic: patient.name.phonetic,
    birthDate,
    sex,
    overlay,
  };
}

function receivedText(attributes: DicomJson, tag: number): string | null {
  const v = attributes[tagToHex(tag)]?.Value?.[0];
  return v === undefined || v === null || v === '' ? null : String(v);
}

/** The state of an unlinked row: the values its objects arrived with, nothing laid over. */
export function receivedRowState(row: ReceivedPatient): RowState {
  const name = (row.attributes[tagToHex(Tag.PatientName)]?.Value?.[0] as DicomJsonPersonName | undefined) ?? {};
  return {
    registryFk: null,
    registryLink: null,
    currentPatientId: row.patientId,
    currentIssuer: row.issuer,
    nameAlphabetic: name.Alphabetic ?? '',
    nameIdeographic: name.Ideographic ?? '',
    namePhonetic: name.Phonetic ?? '',
    birthDate: receivedText(row.attributes, Tag.PatientBirthDate),
    sex: receivedText(row.attributes, Tag.PatientSex),
    overlay: {},
  };
}

/** JSON with object keys sorted at every level: equal states give equal text (jsonb reorders keys). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

export function sameRowState(a: RowState, b: RowState): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
