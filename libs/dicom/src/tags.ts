/**
 * Tags the archive reads by number. A tag is the 32-bit (group << 16 | element) value.
 * Names follow the PS3.6 keywords.
 */
export const Tag = {
  FileMetaInformationGroupLength: 0x00020000,
  FileMetaInformationVersion: 0x00020001,
  MediaStorageSOPClassUID: 0x00020002,
  MediaStorageSOPInstanceUID: 0x00020003,
  TransferSyntaxUID: 0x00020010,
  ImplementationClassUID: 0x00020012,
  ImplementationVersionName: 0x00020013,
  SourceApplicationEntityTitle: 0x00020016,

  SpecificCharacterSet: 0x00080005,
  ImageType: 0x00080008,
  InstanceCreationDate: 0x00080012,
  InstanceCreationTime: 0x00080013,
  SOPClassUID: 0x00080016,
  SOPInstanceUID: 0x00080018,
  StudyDate: 0x00080020,
  SeriesDate: 0x00080021,
  ContentDate: 0x00080023,
  StudyTime: 0x00080030,
  SeriesTime: 0x00080031,
  ContentTime: 0x00080033,
  AccessionNumber: 0x00080050,
  IssuerOfAccessionNumberSequence: 0x00080051,
  QueryRetrieveLevel: 0x00080052,
  RetrieveAETitle: 0x00080054,
  InstanceAvailability: 0x00080056,
  Modality: 0x00080060,
  ModalitiesInStudy: 0x00080061,
  SOPClassesInStudy: 0x00080062,
  Manufacturer: 0x00080070,
  InstitutionName: 0x00080080,
  ReferringPhysicianName: 0x00080090,
  TimezoneOffsetFromUTC: 0x00080201,
  StationName: 0x00081010,
  StudyDescription: 0x00081030,
  SeriesDescription: 0x0008103e,
  ManufacturerModelName: 0x00081090,
  RetrieveURL: 0x00081190,
  FailureReason: 0x00081197,
  FailedSOPSequence: 0x00081198,
  ReferencedSOPSequence: 0x00081199,
  WarningReason: 0x00081196,
  ReferencedSOPClassUID: 0x00081150,
  ReferencedSOPInstanceUID: 0x00081155,

  PatientName: 0x00100010,
  PatientID: 0x00100020,
  IssuerOfPatientID: 0x00100021,
  IssuerOfPatientIDQualifiersSequence: 0x00100024,
  PatientBirthDate: 0x00100030,
  PatientBirthTime: 0x00100032,
  PatientSex: 0x00100040,
  OtherPatientIDsSequence: 0x00101002,
  PatientAge: 0x00101010,
  NumberOfPatientRelatedStudies: 0x00201200,
  NumberOfPatientRelatedSeries: 0x00201202,
  NumberOfPatientRelatedInstances: 0x00201204,

  BodyPartExamined: 0x00180015,
  StudyInstanceUID: 0x0020000d,
  SeriesInstanceUID: 0x0020000e,
  StudyID: 0x00200010,
  SeriesNumber: 0x00200011,
  InstanceNumber: 0x00200013,
  NumberOfStudyRelatedSeries: 0x00201206,
  NumberOfStudyRelatedInstances: 0x00201208,
  NumberOfSeriesRelatedInstances: 0x00201209,
  PerformedProcedureStepStartDate: 0x00400244,
  PerformedProcedureStepStartTime: 0x00400245,

  SamplesPerPixel: 0x00280002,
  PhotometricInterpretation: 0x00280004,
  NumberOfFrames: 0x00280008,
  Rows: 0x00280010,
  Columns: 0x00280011,
  BitsAllocated: 0x00280100,
  BitsStored: 0x00280101,
  PixelRepresentation: 0x00280103,
  PlanarConfiguration: 0x00280006,

  PixelData: 0x7fe00010,
  FloatPixelData: 0x7fe00008,
  DoubleFloatPixelData: 0x7fe00009,

  Item: 0xfffee000,
  ItemDelimitationItem: 0xfffee00d,
  SequenceDelimitationItem: 0xfffee0dd,
} as const;

/** Hex forms made so far: every received header converts its few hundred tags (the index's JSON keys). */
const hexByTag = new Map<number, string>();

/** `0x00100010` -> `"00100010"`, the form DICOM JSON keys use (PS3.18 F.2.1.1). */
export function tagToHex(tag: number): string {
  let hex = hexByTag.get(tag);
  if (hex === undefined) {
    hex = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
    // Private tags are many; beyond the bound they are converted each time rather than kept.
    if (hexByTag.size < 20_000) hexByTag.set(tag, hex);
  }
  return hex;
}

/** `"00100010"`, `"0010,0010"` or `"(0010,0010)"` -> number; undefined when not a tag. */
export function parseTagHex(text: string): number | undefined {
  const hex = text.replace(/[(),\s]/g, '');
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return undefined;
  return parseInt(hex, 16) >>> 0;
}

export function tagGroup(tag: number): number {
  return tag >>> 16;
}

export function tagElement(tag: number): number {
  return tag & 0xffff;
}

/** Private tags have an odd group number (PS3.5 7.8). */
export function isPrivateTag(tag: number): boolean {
  return (tagGroup(tag) & 1) === 1;
}

/** Private creator elements (gggg,0010-00FF) are always LO (PS3.5 7.8.1). */
export function isPrivateCreator(tag: number): boolean {
  const el = tagElement(tag);
  return isPrivateTag(tag) && el >= 0x0010 && el <= 0x00ff;
}
