/**
 * Transfer syntaxes (PS3.5 section 10 and Annex A). The archive stores every one of them as
 * received; it only needs to know how the dataset is encoded to read the header.
 */
export interface TransferSyntax {
  readonly uid: string;
  readonly name: string;
  readonly explicitVR: boolean;
  readonly littleEndian: boolean;
  readonly deflated: boolean;
  /** Pixel data in fragments (PS3.5 A.4). */
  readonly encapsulated: boolean;
}

export const TS = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  EncapsulatedUncompressedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.98',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
  JPEGBaseline8Bit: '1.2.840.10008.1.2.4.50',
  JPEGExtended12Bit: '1.2.840.10008.1.2.4.51',
  JPEGLossless: '1.2.840.10008.1.2.4.57',
  JPEGLosslessSV1: '1.2.840.10008.1.2.4.70',
  JPEGLSLossless: '1.2.840.10008.1.2.4.80',
  JPEGLSNearLossless: '1.2.840.10008.1.2.4.81',
  JPEG2000Lossless: '1.2.840.10008.1.2.4.90',
  JPEG2000: '1.2.840.10008.1.2.4.91',
  RLELossless: '1.2.840.10008.1.2.5',
} as const;

const NAMED: Record<string, string> = {
  [TS.ImplicitVRLittleEndian]: 'Implicit VR Little Endian',
  [TS.ExplicitVRLittleEndian]: 'Explicit VR Little Endian',
  [TS.EncapsulatedUncompressedExplicitVRLittleEndian]: 'Encapsulated Uncompressed Explicit VR Little Endian',
  [TS.DeflatedExplicitVRLittleEndian]: 'Deflated Explicit VR Little Endian',
  [TS.ExplicitVRBigEndian]: 'Explicit VR Big Endian (retired)',
  [TS.RLELossless]: 'RLE Lossless',
  '1.2.840.10008.1.2.4.100': 'MPEG2 Main Profile / Main Level',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264 High Profile',
  '1.2.840.10008.1.2.4.107': 'HEVC/H.265 Main Profile',
};

/**
 * Every compressed transfer syntax (JPEG family 1.2.840.10008.1.2.4.*, RLE, and the newer
 * encapsulated ones) is explicit VR little endian with encapsulated pixel data (PS3.5 A.4),
 * so unknown members of that family are still readable.
 */
export function lookupTransferSyntax(uid: string): TransferSyntax | undefined {
  const name = NAMED[uid] ?? uid;
  switch (uid) {
    case TS.ImplicitVRLittleEndian:
      return { uid, name, explicitVR: false, littleEndian: true, deflated: false, encapsulated: false };
    case TS.ExplicitVRLittleEndian:
      return { uid, name, explicitVR: true, littleEndian: true, deflated: false, encapsulated: false };
    case TS.DeflatedExplicitVRLittleEndian:
      return { uid, name, explicitVR: true, littleEndian: true, deflated: true, encapsulated: false };
    case TS.ExplicitVRBigEndian:
      return { uid, name, explicitVR: true, littleEndian: false, deflated: false, encapsulated: false };
    default:
      if (uid.startsWith('1.2.840.10008.1.2.4.') || uid === TS.RLELossless || uid === TS.EncapsulatedUncompressedExplicitVRLittleEndian) {
        return { uid, name, explicitVR: true, littleEndian: true, deflated: false, encapsulated: true };
      }
      return undefined;
  }
}

export function isKnownTransferSyntax(uid: string): boolean {
  return lookupTransferSyntax(uid) !== undefined;
}
