import { Tag } from '#vna/dicom';

/**
 * Which attributes belong to the patient, the study and the series (PS3.3 C.7.1-C.7.3, and the
 * Query/Retrieve keys of PS3.4 C.6.1.1 / C.6.2.1). The index keeps these per entity; everything
 * else is instance level.
 */
export const PATIENT_LEVEL = new Set<number>([
  Tag.PatientName,
  Tag.PatientID,
  Tag.IssuerOfPatientID,
  Tag.IssuerOfPatientIDQualifiersSequence,
  Tag.PatientBirthDate,
  Tag.PatientBirthTime,
  Tag.PatientSex,
  Tag.OtherPatientIDsSequence,
  0x00101000, // OtherPatientIDs (retired, still sent)
  0x00101001, // OtherPatientNames
  0x00102160, // EthnicGroup
  0x00104000, // PatientComments
  0x00102201, // PatientSpeciesDescription
  0x00102292, // PatientBreedDescription
  0x00100022, // TypeOfPatientID
  0x00101060, // PatientMotherBirthName
  0x00100050, // PatientInsurancePlanCodeSequence
  0x00101040, // PatientAddress
  0x00102154, // PatientTelephoneNumbers
]);

export const STUDY_LEVEL = new Set<number>([
  Tag.StudyInstanceUID,
  Tag.StudyDate,
  Tag.StudyTime,
  Tag.AccessionNumber,
  Tag.IssuerOfAccessionNumberSequence,
  Tag.ReferringPhysicianName,
  Tag.StudyDescription,
  Tag.StudyID,
  0x00081032, // ProcedureCodeSequence
  0x00081060, // NameOfPhysiciansReadingStudy
  0x00081080, // AdmittingDiagnosesDescription
  0x00101010, // PatientAge
  0x00101020, // PatientSize
  0x00101030, // PatientWeight
  0x00102180, // Occupation
  0x001021b0, // AdditionalPatientHistory
  0x00321032, // RequestingPhysician
  0x00321060, // RequestedProcedureDescription
  0x00321064, // RequestedProcedureCodeSequence
  0x00080090, // ReferringPhysicianName (listed above, kept for clarity)
  0x00080096, // ReferringPhysicianIdentificationSequence
  0x00081110, // ReferencedStudySequence
  0x00380010, // AdmissionID
  0x00400009, // ScheduledProcedureStepID — from the order, study level for search
  Tag.TimezoneOffsetFromUTC,
]);

export const SERIES_LEVEL = new Set<number>([
  Tag.SeriesInstanceUID,
  Tag.Modality,
  Tag.SeriesNumber,
  Tag.SeriesDescription,
  Tag.SeriesDate,
  Tag.SeriesTime,
  Tag.BodyPartExamined,
  Tag.PerformedProcedureStepStartDate,
  Tag.PerformedProcedureStepStartTime,
  0x00400253, // PerformedProcedureStepID
  0x00400254, // PerformedProcedureStepDescription
  0x00400275, // RequestAttributesSequence
  0x00180015, // BodyPartExamined
  0x00185100, // PatientPosition
  0x00200060, // Laterality
  0x00081050, // PerformingPhysicianName
  0x00081070, // OperatorsName
  0x00080080, // InstitutionName
  0x00081010, // StationName
  0x00081040, // InstitutionalDepartmentName
  Tag.Manufacturer,
  Tag.ManufacturerModelName,
  0x00181030, // ProtocolName
  0x00200052, // FrameOfReferenceUID
]);
