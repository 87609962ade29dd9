/**
 * What the index knows of a study, as the FHIR mappers need it: the current identity (after ADT
 * updates and merges), corrected study values, and the instances visible to query and retrieve
 * (current, not rejected). Dates and times in their DICOM forms (DA, TM).
 */
export interface StudySnapshot {
  readonly studyUid: string;
  readonly studyDate: string | null;
  readonly studyTime: string | null;
  readonly accessionNumber: string | null;
  /** IssuerOfAccessionNumberSequence's Local Namespace Entity ID, or the order's accession issuer. */
  readonly accessionIssuer: string | null;
  readonly description: string | null;
  readonly referringPhysician: string | null;
  readonly patient: PatientSnapshot;
  /** The order the study was linked to, if any (libs/identity orders). */
  readonly order: OrderSnapshot | null;
  readonly series: readonly SeriesSnapshot[];
}

export interface PatientSnapshot {
  /** The index patient row (the API's Patient id when the registry does not know the identity). */
  readonly rowId: string;
  /** The registry patient holding the current identity, if any. */
  readonly registryId: string | null;
  readonly patientId: string;
  readonly issuer: string;
  readonly name: string;
  readonly birthDate: string | null;
  readonly sex: string | null;
}

export interface OrderSnapshot {
  /** imaging_order.id (the API's ServiceRequest id). */
  readonly id: string;
  readonly accessionNumber: string;
  readonly accessionIssuer: string;
  readonly placerOrderNumber: string;
  readonly placerIssuer: string;
  readonly procedureCode: { readonly code: string; readonly scheme: string; readonly meaning: string } | null;
  readonly procedureDescription: string;
}

export interface SeriesSnapshot {
  readonly seriesUid: string;
  readonly number: number | null;
  readonly modality: string | null;
  readonly description: string | null;
  readonly bodyPart: string | null;
  readonly startDate: string | null;
  readonly startTime: string | null;
  readonly instances: readonly InstanceSnapshot[];
}

export interface InstanceSnapshot {
  readonly sopInstanceUid: string;
  readonly sopClassUid: string;
  readonly number: number | null;
}
