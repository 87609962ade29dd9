import type { Patient } from '@medplum/fhirtypes';
import type { PatientRecord } from '../api/fhir-search.repository.js';
import { fhirDate, gender, humanName, issuerSystem } from './fhir-values.js';

/**
 * A patient as an R4 Patient (https://hl7.org/fhir/R4/patient.html). A merged registry patient is
 * inactive with `link` replaced-by its survivor (the end of its merge chain); a survivor links
 * `replaces` to those merged into it (R4 Patient.link, "replaced-by", "replaces").
 */
export function toPatient(r: PatientRecord, systems: Readonly<Record<string, string>>): Patient {
  const name = humanName(r.name);
  const birthDate = fhirDate(r.birthDate);
  const link: NonNullable<Patient['link']> = [];
  if (r.survivor) link.push({ other: { reference: `Patient/${r.survivor}` }, type: 'replaced-by' });
  for (const id of r.replaces) link.push({ other: { reference: `Patient/${id}` }, type: 'replaces' });
  if (r.seeAlso) link.push({ other: { reference: `Patient/${r.seeAlso}` }, type: 'seealso' });
  return {
    resourceType: 'Patient',
    id: r.fid,
    identifier: r.identifiers.map((i) => {
      const system = issuerSystem(i.issuer, systems);
      return { use: 'usual' as const, ...(system ? { system } : {}), value: i.patientId };
    }),
    active: r.status === 'active',
    ...(name ? { name: [name] } : {}),
    gender: gender(r.sex),
    ...(birthDate ? { birthDate } : {}),
    ...(link.length ? { link } : {}),
  };
}
