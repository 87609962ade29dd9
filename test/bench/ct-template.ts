import type { WriteElement } from '#vna/dicom';

/**
 * A realistic CT header: the attribute set of a GE HiSpeed CT/i axial slice (the same scanner as
 * the peer's template, pydicom's CT_small.dcm), public attributes and the GE private groups 0009,
 * 0011, 0019, 0021, 0023, 0025, 0027, 0029 and 0043 included, so that the header is ~6.4 KB like a
 * real one and the archive's header reading meets what real CT brings. Values are typical, not
 * copied; identity (UIDs, patient, study) is set per instance by the generator.
 */
export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const MF_GRAYSCALE_WORD_SC = '1.2.840.10008.5.1.4.1.1.7.3';

/** Identity of one instance, the part of the header that differs from file to file. */
export interface CtIdentity {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly studyUid: string;
  readonly seriesUid: string;
  readonly frameOfReferenceUid: string;
  readonly patientId: string;
  readonly patientName: string;
  readonly accession: string;
  readonly studyDate: string;
  readonly studyTime: string;
  readonly studyDescription: string;
  readonly studyId: string;
  readonly seriesNumber: number;
  readonly instanceNumber: number;
  readonly sliceLocation: number;
  readonly rows: number;
  readonly columns: number;
  /** Multi-frame objects only. */
  readonly numberOfFrames?: number;
}

const t = (group: number, element: number): number => ((group << 16) | element) >>> 0;
const ds = (n: number, digits = 6): string => n.toFixed(digits);

/** 2068 bytes like GE's histogram table (0043,1029): a few counts, then zeros. */
function histogramTable(): Buffer {
  const b = Buffer.alloc(2068);
  b.writeUInt32BE(1, 0);
  b.writeUInt32BE(0x43cf5214, 4);
  b.writeUInt32BE(0x02d70000, 8);
  b.writeUInt32BE(0x08e60000, 12);
  return b;
}

function geUniqueId(): Buffer {
  const b = Buffer.alloc(80);
  b.write('CT01\0\0\0HiSpeed CT/i\x000505z:=|', 0, 'latin1');
  return b;
}

const HISTOGRAM = histogramTable();
const UNIQUE_ID = geUniqueId();

export function ctHeader(id: CtIdentity): WriteElement[] {
  const scale = 512 / id.columns; // pixel spacing so that the field of view stays ~338 mm
  const spacing = ds(0.661468 * scale);
  const z = id.sliceLocation;
  const multiFrame = id.numberOfFrames !== undefined;
  const els: WriteElement[] = [
    { tag: t(0x0008, 0x0005), vr: 'CS', value: 'ISO_IR 100' },
    { tag: t(0x0008, 0x0008), vr: 'CS', value: ['ORIGINAL', 'PRIMARY', 'AXIAL'] },
    { tag: t(0x0008, 0x0012), vr: 'DA', value: id.studyDate },
    { tag: t(0x0008, 0x0013), vr: 'TM', value: '072731' },
    { tag: t(0x0008, 0x0014), vr: 'UI', value: '1.3.6.1.4.1.5962.3' },
    { tag: t(0x0008, 0x0016), vr: 'UI', value: id.sopClassUid },
    { tag: t(0x0008, 0x0018), vr: 'UI', value: id.sopInstanceUid },
    { tag: t(0x0008, 0x0020), vr: 'DA', value: id.studyDate },
    { tag: t(0x0008, 0x0021), vr: 'DA', value: id.studyDate },
    { tag: t(0x0008, 0x0022), vr: 'DA', value: id.studyDate },
    { tag: t(0x0008, 0x0023), vr: 'DA', value: id.studyDate },
    { tag: t(0x0008, 0x0030), vr: 'TM', value: id.studyTime },
    { tag: t(0x0008, 0x0031), vr: 'TM', value: '112749' },
    { tag: t(0x0008, 0x0032), vr: 'TM', value: '112936' },
    { tag: t(0x0008, 0x0033), vr: 'TM', value: '113008' },
    { tag: t(0x0008, 0x0050), vr: 'SH', value: id.accession },
    { tag: t(0x0008, 0x0060), vr: 'CS', value: multiFrame ? 'OT' : 'CT' },
    { tag: t(0x0008, 0x0070), vr: 'LO', value: 'GE MEDICAL SYSTEMS' },
    { tag: t(0x0008, 0x0080), vr: 'LO', value: 'JFK IMAGING CENTER' },
    { tag: t(0x0008, 0x0090), vr: 'PN', value: 'REFERRER^ROBERT' },
    { tag: t(0x0008, 0x0201), vr: 'SH', value: '-0500' },
    { tag: t(0x0008, 0x1010), vr: 'SH', value: 'CT01_OC0' },
    { tag: t(0x0008, 0x1030), vr: 'LO', value: id.studyDescription },
    { tag: t(0x0008, 0x103e), vr: 'LO', value: 'AXIAL 5mm STANDARD' },
    { tag: t(0x0008, 0x1090), vr: 'LO', value: 'HiSpeed CT/i' },
    // GE private: identification
    { tag: t(0x0009, 0x0010), vr: 'LO', value: 'GEMS_IDEN_01' },
    { tag: t(0x0009, 0x1001), vr: 'LO', value: 'GE_GENESIS_FF' },
    { tag: t(0x0009, 0x1002), vr: 'SH', value: 'CT01' },
    { tag: t(0x0009, 0x1004), vr: 'SH', value: 'HiSpeed CT/i' },
    { tag: t(0x0009, 0x1027), vr: 'SL', value: [862399669] },
    { tag: t(0x0009, 0x1030), vr: 'SH', value: '' },
    { tag: t(0x0009, 0x1031), vr: 'SH', value: '' },
    { tag: t(0x0009, 0x10e6), vr: 'SH', value: '05' },
    { tag: t(0x0009, 0x10e7), vr: 'UL', value: [973283917] },
    { tag: t(0x0009, 0x10e9), vr: 'SL', value: [862399669] },
    { tag: t(0x0010, 0x0010), vr: 'PN', value: id.patientName },
    { tag: t(0x0010, 0x0020), vr: 'LO', value: id.patientId },
    { tag: t(0x0010, 0x0030), vr: 'DA', value: '19580312' },
    { tag: t(0x0010, 0x0040), vr: 'CS', value: 'O' },
    {
      tag: t(0x0010, 0x1002),
      vr: 'SQ',
      value: [
        [
          { tag: t(0x0010, 0x0020), vr: 'LO', value: `${id.patientId}-A` },
          { tag: t(0x0010, 0x0022), vr: 'CS', value: 'TEXT' },
        ],
        [
          { tag: t(0x0010, 0x0020), vr: 'LO', value: `${id.patientId}-B` },
          { tag: t(0x0010, 0x0022), vr: 'CS', value: 'TEXT' },
        ],
      ],
    },
    { tag: t(0x0010, 0x1010), vr: 'AS', value: '066Y' },
    { tag: t(0x0010, 0x1030), vr: 'DS', value: '72.000000' },
    { tag: t(0x0010, 0x21b0), vr: 'LT', value: '' },
    { tag: t(0x0011, 0x0010), vr: 'LO', value: 'GEMS_PATI_01' },
    { tag: t(0x0011, 0x1010), vr: 'SS', value: [0] },
    // acquisition
    { tag: t(0x0018, 0x0010), vr: 'LO', value: 'ISOVUE300/100' },
    { tag: t(0x0018, 0x0022), vr: 'CS', value: 'HELICAL MODE' },
    { tag: t(0x0018, 0x0050), vr: 'DS', value: '5.000000' },
    { tag: t(0x0018, 0x0060), vr: 'DS', value: '120' },
    { tag: t(0x0018, 0x0088), vr: 'DS', value: '5.000000' },
    { tag: t(0x0018, 0x0090), vr: 'DS', value: '480.000000' },
    { tag: t(0x0018, 0x1020), vr: 'LO', value: '05' },
    { tag: t(0x0018, 0x1040), vr: 'LO', value: 'IV' },
    { tag: t(0x0018, 0x1100), vr: 'DS', value: '338.671600' },
    { tag: t(0x0018, 0x1110), vr: 'DS', value: '1099.3100585938' },
    { tag: t(0x0018, 0x1111), vr: 'DS', value: '630.000000' },
    { tag: t(0x0018, 0x1120), vr: 'DS', value: '0.000000' },
    { tag: t(0x0018, 0x1130), vr: 'DS', value: '133.699997' },
    { tag: t(0x0018, 0x1150), vr: 'IS', value: '1601' },
    { tag: t(0x0018, 0x1151), vr: 'IS', value: '170' },
    { tag: t(0x0018, 0x1152), vr: 'IS', value: '170' },
    { tag: t(0x0018, 0x1160), vr: 'SH', value: 'LARGE BOWTIE FIL' },
    { tag: t(0x0018, 0x1190), vr: 'DS', value: '0.700000' },
    { tag: t(0x0018, 0x1210), vr: 'SH', value: 'STANDARD' },
    { tag: t(0x0018, 0x5100), vr: 'CS', value: 'FFS' },
    // GE private: acquisition
    { tag: t(0x0019, 0x0010), vr: 'LO', value: 'GEMS_ACQU_01' },
    { tag: t(0x0019, 0x1002), vr: 'SL', value: [912] },
    { tag: t(0x0019, 0x1003), vr: 'DS', value: '373.750000' },
    { tag: t(0x0019, 0x1004), vr: 'DS', value: '1.016600' },
    { tag: t(0x0019, 0x100f), vr: 'DS', value: '955.799988' },
    ...[0x1011, 0x1013, 0x1014, 0x1015, 0x1016, 0x1017].map((e, i) => ({ tag: t(0x0019, e), vr: 'SS', value: [i === 0 || i === 5 ? 2 : 0] })),
    { tag: t(0x0019, 0x1018), vr: 'LO', value: 'S' },
    { tag: t(0x0019, 0x1019), vr: 'DS', value: '7.791870' },
    { tag: t(0x0019, 0x101a), vr: 'LO', value: 'I' },
    { tag: t(0x0019, 0x101b), vr: 'DS', value: '-320.197968' },
    { tag: t(0x0019, 0x101e), vr: 'DS', value: '0.000000' },
    { tag: t(0x0019, 0x1023), vr: 'DS', value: '5.000000' },
    { tag: t(0x0019, 0x1024), vr: 'DS', value: '17.784578' },
    { tag: t(0x0019, 0x1025), vr: 'SS', value: [1] },
    { tag: t(0x0019, 0x1026), vr: 'SL', value: [0] },
    { tag: t(0x0019, 0x1027), vr: 'DS', value: '1.000000' },
    { tag: t(0x0019, 0x102a), vr: 'DS', value: '178.079926' },
    { tag: t(0x0019, 0x102b), vr: 'DS', value: '3994.299316' },
    { tag: t(0x0019, 0x102c), vr: 'SL', value: [10431] },
    { tag: t(0x0019, 0x102e), vr: 'DS', value: '-718.079956' },
    { tag: t(0x0019, 0x102f), vr: 'DS', value: '984.000000' },
    ...[0x1039, 0x1040, 0x1041, 0x1042, 0x1043].map((e, i) => ({ tag: t(0x0019, e), vr: 'SS', value: [[16, 0, 1, 0, 0][i]!] })),
    { tag: t(0x0019, 0x1044), vr: 'DS', value: '1.000000' },
    { tag: t(0x0019, 0x1047), vr: 'SS', value: [1] },
    { tag: t(0x0019, 0x104a), vr: 'SS', value: [6] },
    { tag: t(0x0019, 0x104b), vr: 'SL', value: [10431] },
    { tag: t(0x0019, 0x1052), vr: 'SS', value: [1] },
    { tag: t(0x0019, 0x1057), vr: 'SS', value: [-95] },
    { tag: t(0x0019, 0x1058), vr: 'SS', value: [0] },
    { tag: t(0x0019, 0x105e), vr: 'SL', value: [763] },
    { tag: t(0x0019, 0x105f), vr: 'SL', value: [1] },
    { tag: t(0x0019, 0x1060), vr: 'SL', value: [1969] },
    { tag: t(0x0019, 0x1061), vr: 'SL', value: [1576] },
    { tag: t(0x0019, 0x1062), vr: 'SL', value: [1] },
    { tag: t(0x0019, 0x106a), vr: 'SS', value: [4] },
    { tag: t(0x0019, 0x106b), vr: 'SS', value: [852] },
    { tag: t(0x0019, 0x1070), vr: 'SS', value: [1] },
    { tag: t(0x0019, 0x1071), vr: 'SS', value: [0] },
    ...[0x1072, 0x1073, 0x1074, 0x1075, 0x1076].map((e) => ({ tag: t(0x0019, e), vr: 'DS', value: '0.000000' })),
    { tag: t(0x0019, 0x10da), vr: 'SS', value: [0] },
    { tag: t(0x0019, 0x10db), vr: 'DS', value: '0.000000' },
    { tag: t(0x0019, 0x10dc), vr: 'SS', value: [1] },
    { tag: t(0x0019, 0x10dd), vr: 'SS', value: [1] },
    { tag: t(0x0019, 0x10de), vr: 'DS', value: '0.000000' },
    // relationship and position
    { tag: t(0x0020, 0x000d), vr: 'UI', value: id.studyUid },
    { tag: t(0x0020, 0x000e), vr: 'UI', value: id.seriesUid },
    { tag: t(0x0020, 0x0010), vr: 'SH', value: id.studyId },
    { tag: t(0x0020, 0x0011), vr: 'IS', value: String(id.seriesNumber) },
    { tag: t(0x0020, 0x0012), vr: 'IS', value: '2' },
    { tag: t(0x0020, 0x0013), vr: 'IS', value: String(id.instanceNumber) },
    { tag: t(0x0020, 0x0032), vr: 'DS', value: ['-169.335800', '-169.335800', ds(z)] },
    { tag: t(0x0020, 0x0037), vr: 'DS', value: ['1.000000', '0.000000', '0.000000', '0.000000', '1.000000', '0.000000'] },
    { tag: t(0x0020, 0x0052), vr: 'UI', value: id.frameOfReferenceUid },
    { tag: t(0x0020, 0x0060), vr: 'CS', value: '' },
    { tag: t(0x0020, 0x1040), vr: 'LO', value: 'SN' },
    { tag: t(0x0020, 0x1041), vr: 'DS', value: ds(z, 4) },
    { tag: t(0x0020, 0x4000), vr: 'LT', value: 'Uncompressed' },
    // GE private: relationship, study, series, image
    { tag: t(0x0021, 0x0010), vr: 'LO', value: 'GEMS_RELA_01' },
    { tag: t(0x0021, 0x1003), vr: 'SS', value: [2] },
    { tag: t(0x0021, 0x1005), vr: 'SH', value: '05' },
    { tag: t(0x0021, 0x1007), vr: 'UL', value: [1605775145] },
    { tag: t(0x0021, 0x1015), vr: 'US', value: [24078] },
    { tag: t(0x0021, 0x1016), vr: 'SS', value: [2] },
    { tag: t(0x0021, 0x1018), vr: 'SH', value: '05' },
    { tag: t(0x0021, 0x1019), vr: 'UL', value: [750675506] },
    { tag: t(0x0021, 0x1037), vr: 'SS', value: [16] },
    { tag: t(0x0021, 0x104a), vr: 'LO', value: '' },
    { tag: t(0x0021, 0x1090), vr: 'SS', value: [7400] },
    { tag: t(0x0021, 0x1091), vr: 'SS', value: [0] },
    { tag: t(0x0021, 0x1092), vr: 'FL', value: [0] },
    { tag: t(0x0021, 0x1093), vr: 'FL', value: [0] },
    { tag: t(0x0023, 0x0010), vr: 'LO', value: 'GEMS_STDY_01' },
    { tag: t(0x0023, 0x1070), vr: 'FD', value: [862399761.111079] },
    { tag: t(0x0023, 0x1074), vr: 'SL', value: [1] },
    { tag: t(0x0023, 0x107d), vr: 'SS', value: [0] },
    { tag: t(0x0025, 0x0010), vr: 'LO', value: 'GEMS_SERS_01' },
    { tag: t(0x0025, 0x1006), vr: 'SS', value: [0] },
    { tag: t(0x0025, 0x1007), vr: 'SL', value: [44] },
    { tag: t(0x0025, 0x1010), vr: 'SL', value: [0] },
    { tag: t(0x0025, 0x1011), vr: 'SS', value: [0] },
    { tag: t(0x0025, 0x1017), vr: 'SL', value: [0] },
    { tag: t(0x0025, 0x1018), vr: 'SL', value: [0] },
    { tag: t(0x0025, 0x1019), vr: 'SL', value: [id.instanceNumber] },
    { tag: t(0x0025, 0x101a), vr: 'SH', value: '' },
    { tag: t(0x0027, 0x0010), vr: 'LO', value: 'GEMS_IMAG_01' },
    { tag: t(0x0027, 0x1006), vr: 'SL', value: [1] },
    { tag: t(0x0027, 0x1010), vr: 'SS', value: [0] },
    { tag: t(0x0027, 0x101c), vr: 'SL', value: [150] },
    { tag: t(0x0027, 0x101d), vr: 'SS', value: [1] },
    { tag: t(0x0027, 0x101e), vr: 'SL', value: [24] },
    { tag: t(0x0027, 0x101f), vr: 'SL', value: [129] },
    { tag: t(0x0027, 0x1020), vr: 'SS', value: [1] },
    { tag: t(0x0027, 0x1030), vr: 'SH', value: '' },
    { tag: t(0x0027, 0x1035), vr: 'SS', value: [2] },
    { tag: t(0x0027, 0x1040), vr: 'SH', value: 'I' },
    { tag: t(0x0027, 0x1041), vr: 'FL', value: [z] },
    ...[0x1042, 0x1043, 0x1044, 0x1045, 0x1046, 0x1047, 0x1048, 0x1049, 0x104a, 0x104b, 0x104c, 0x104d, 0x1050, 0x1051].map((e, i) => ({
      tag: t(0x0027, e),
      vr: 'FL',
      value: [[-11.2, 9.7, z, 0, 0, -1, -180.535797, 179.035797, z, -180.535797, -159.635803, z, -63.2, -116.203049][i]!],
    })),
    { tag: t(0x0027, 0x1052), vr: 'SH', value: 'L' },
    { tag: t(0x0027, 0x1053), vr: 'SH', value: 'A' },
    { tag: t(0x0027, 0x1054), vr: 'SH', value: 'I' },
    { tag: t(0x0027, 0x1055), vr: 'SH', value: 'I' },
    // image pixel
    { tag: t(0x0028, 0x0002), vr: 'US', value: [1] },
    { tag: t(0x0028, 0x0004), vr: 'CS', value: 'MONOCHROME2' },
    ...(multiFrame
      ? [
          { tag: t(0x0028, 0x0008), vr: 'IS', value: String(id.numberOfFrames) },
          // Frame Increment Pointer -> Frame Time (PS3.3 C.7.6.6)
          { tag: t(0x0028, 0x0009), vr: 'AT', value: [0x00181063] },
          { tag: t(0x0018, 0x1063), vr: 'DS', value: '33.3' },
        ]
      : []),
    { tag: t(0x0028, 0x0010), vr: 'US', value: [id.rows] },
    { tag: t(0x0028, 0x0011), vr: 'US', value: [id.columns] },
    { tag: t(0x0028, 0x0030), vr: 'DS', value: [spacing, spacing] },
    { tag: t(0x0028, 0x0100), vr: 'US', value: [16] },
    { tag: t(0x0028, 0x0101), vr: 'US', value: [16] },
    { tag: t(0x0028, 0x0102), vr: 'US', value: [15] },
    { tag: t(0x0028, 0x0103), vr: 'US', value: [1] },
    { tag: t(0x0028, 0x0120), vr: 'SS', value: [-2000] },
    { tag: t(0x0028, 0x1050), vr: 'DS', value: '40' },
    { tag: t(0x0028, 0x1051), vr: 'DS', value: '400' },
    { tag: t(0x0028, 0x1052), vr: 'DS', value: '-1024' },
    { tag: t(0x0028, 0x1053), vr: 'DS', value: '1' },
    // GE private: image processing and parameters
    { tag: t(0x0029, 0x0010), vr: 'LO', value: 'GEMS_IMPS_01' },
    { tag: t(0x0029, 0x1004), vr: 'SL', value: [0] },
    { tag: t(0x0029, 0x1005), vr: 'DS', value: '0.000000' },
    { tag: t(0x0029, 0x1006), vr: 'DS', value: '0.000000' },
    { tag: t(0x0029, 0x1007), vr: 'SL', value: [87] },
    { tag: t(0x0029, 0x1008), vr: 'SH', value: '' },
    { tag: t(0x0029, 0x1009), vr: 'SH', value: '' },
    { tag: t(0x0029, 0x100a), vr: 'SS', value: [764] },
    { tag: t(0x0029, 0x1026), vr: 'SS', value: [2] },
    { tag: t(0x0029, 0x1034), vr: 'SL', value: [0] },
    { tag: t(0x0029, 0x1035), vr: 'SL', value: [0] },
    { tag: t(0x0043, 0x0010), vr: 'LO', value: 'GEMS_PARM_01' },
    { tag: t(0x0043, 0x1010), vr: 'US', value: [400] },
    { tag: t(0x0043, 0x1011), vr: 'US', value: [10431] },
    { tag: t(0x0043, 0x1012), vr: 'SS', value: [14, 2, 3] },
    { tag: t(0x0043, 0x1013), vr: 'SS', value: [107, 21, 4, 2, 20] },
    { tag: t(0x0043, 0x1014), vr: 'SS', value: [4, 4, 5] },
    { tag: t(0x0043, 0x1015), vr: 'SS', value: [10431] },
    { tag: t(0x0043, 0x1016), vr: 'SS', value: [0] },
    { tag: t(0x0043, 0x1017), vr: 'DS', value: '0.095000' },
    { tag: t(0x0043, 0x1018), vr: 'DS', value: ['0.085000', '1.102000', '0.095000'] },
    { tag: t(0x0043, 0x1019), vr: 'SS', value: [350] },
    { tag: t(0x0043, 0x101a), vr: 'SL', value: [7] },
    { tag: t(0x0043, 0x101b), vr: 'SS', value: [0, 0, 0, 0, 0] },
    { tag: t(0x0043, 0x101c), vr: 'SS', value: [0] },
    { tag: t(0x0043, 0x101d), vr: 'SS', value: [40] },
    { tag: t(0x0043, 0x101e), vr: 'DS', value: '2.000000' },
    { tag: t(0x0043, 0x101f), vr: 'SL', value: [0] },
    { tag: t(0x0043, 0x1020), vr: 'DS', value: '0.000000' },
    { tag: t(0x0043, 0x1021), vr: 'SS', value: [0] },
    { tag: t(0x0043, 0x1025), vr: 'SS', value: [1, 2, 3, 748, 749, 750] },
    { tag: t(0x0043, 0x1026), vr: 'US', value: [0, 1, 1, 0, 0, 0] },
    { tag: t(0x0043, 0x1027), vr: 'SH', value: '/1.0:1' },
    { tag: t(0x0043, 0x1028), vr: 'OB', value: UNIQUE_ID },
    { tag: t(0x0043, 0x1029), vr: 'OB', value: HISTOGRAM },
    { tag: t(0x0043, 0x102a), vr: 'OB', value: UNIQUE_ID.subarray(0, 40) },
    { tag: t(0x0043, 0x102b), vr: 'SS', value: [4, 4, 0, 0] },
    { tag: t(0x0043, 0x1031), vr: 'DS', value: ['-11.200000', '9.700000'] },
    { tag: t(0x0043, 0x1040), vr: 'FL', value: [178.0799255] },
    { tag: t(0x0043, 0x1041), vr: 'FL', value: [3816.21948] },
    ...[0x1042, 0x1043, 0x1044, 0x1045, 0x1046, 0x1047, 0x1048, 0x1049].map((e, i) => ({ tag: t(0x0043, e), vr: 'SL', value: [[0, 0, 1, 1, 3, -1, 1, 0][i]!] })),
    { tag: t(0x0043, 0x104a), vr: 'SS', value: [1] },
    { tag: t(0x0043, 0x104b), vr: 'SL', value: [0] },
    { tag: t(0x0043, 0x104c), vr: 'SS', value: [0] },
    { tag: t(0x0043, 0x104d), vr: 'FL', value: [0] },
    { tag: t(0x0043, 0x104e), vr: 'FL', value: [10.6006098] },
  ];
  return els;
}

/**
 * A CT-like slice (air, a body ellipse with soft tissue and a bone ring, padding outside the
 * reconstruction circle), 16-bit signed stored values with intercept -1024, with a little noise so
 * that it is not trivially compressible. Built once per size and copied per instance.
 */
export function ctSlice(rows: number, columns: number, seed = 1): Buffer {
  const b = Buffer.alloc(rows * columns * 2);
  let s = seed >>> 0 || 1;
  const noise = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) % 41) - 20;
  };
  const cy = rows / 2;
  const cx = columns / 2;
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x++) {
      const dy = (y - cy) / (rows / 2);
      const dx = (x - cx) / (columns / 2);
      let hu: number;
      if (dx * dx + dy * dy > 1) hu = -2000 - 1024; // Pixel Padding Value: stored -2000
      else {
        const e = (dx / 0.8) ** 2 + (dy / 0.6) ** 2;
        if (e > 1) hu = -1000;
        else if (e > 0.85) hu = 40;
        else if (e > 0.75) hu = 900;
        else hu = 35;
        hu += noise();
      }
      b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(hu + 1024))), (y * columns + x) * 2);
    }
  }
  return b;
}
