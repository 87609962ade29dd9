import { lookupTransferSyntax, TS } from '#vna/dicom';

/** SOP classes of the services the archive provides (PS3.4 Annexes A, C), other than storage. */
export const SopClass = {
  Verification: '1.2.840.10008.1.1',
  PatientRootFind: '1.2.840.10008.5.1.4.1.2.1.1',
  PatientRootMove: '1.2.840.10008.5.1.4.1.2.1.2',
  PatientRootGet: '1.2.840.10008.5.1.4.1.2.1.3',
  StudyRootFind: '1.2.840.10008.5.1.4.1.2.2.1',
  StudyRootMove: '1.2.840.10008.5.1.4.1.2.2.2',
  StudyRootGet: '1.2.840.10008.5.1.4.1.2.2.3',
  /** Modality Worklist Information Model - FIND (PS3.4 K.6.1.1.2; IHE SWF RAD-5). */
  ModalityWorklistFind: '1.2.840.10008.5.1.4.31',
} as const;

const SERVICES = new Set<string>(Object.values(SopClass));

/**
 * Standard storage SOP classes outside the 1.2.840.10008.5.1.4.1.1 arc (PS3.4 Annex B and GG):
 * hanging protocols, color palettes, implant templates, protocols.
 */
const OTHER_STANDARD_STORAGE = new Set([
  '1.2.840.10008.5.1.4.38.1', // Hanging Protocol Storage
  '1.2.840.10008.5.1.4.39.1', // Color Palette Storage
  '1.2.840.10008.5.1.4.43.1', // Generic Implant Template Storage
  '1.2.840.10008.5.1.4.44.1', // Implant Assembly Template Storage
  '1.2.840.10008.5.1.4.45.1', // Implant Template Group Storage
]);

/**
 * Storage SOP classes: every standard one (the 1.2.840.10008.5.1.4.1.1 arc and the few outside it)
 * and any non-standard abstract syntax, so that vendors' private storage classes are archived too.
 * Other standard classes (UPS, notifications, other query models) are not storage.
 */
function isStandardUid(uid: string): boolean {
  return uid.startsWith('1.2.840.10008.');
}

export type ContextDecision =
  | { readonly accept: true; readonly transferSyntaxUid: string }
  | { readonly accept: false; readonly reason: 'abstract-syntax' | 'transfer-syntax' };

export function isServiceClass(abstractSyntaxUid: string): boolean {
  return SERVICES.has(abstractSyntaxUid);
}

export function isStorageClass(abstractSyntaxUid: string): boolean {
  if (SERVICES.has(abstractSyntaxUid)) return false;
  if (!isStandardUid(abstractSyntaxUid)) return true;
  return abstractSyntaxUid.startsWith('1.2.840.10008.5.1.4.1.1.') || OTHER_STANDARD_STORAGE.has(abstractSyntaxUid);
}

/**
 * Chooses the transfer syntax of a proposed presentation context (PS3.8 7.1.1.13). Storage takes
 * the first proposed syntax the archive can read: objects are kept in the encoding they came in,
 * compressed or not. Services (echo, find, move, get, worklist) use Explicit VR Little Endian when offered.
 */
export function decideContext(abstractSyntaxUid: string, proposed: readonly string[]): ContextDecision {
  if (isServiceClass(abstractSyntaxUid)) {
    for (const preferred of [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian]) {
      if (proposed.includes(preferred)) return { accept: true, transferSyntaxUid: preferred };
    }
    return { accept: false, reason: 'transfer-syntax' };
  }
  if (!isStorageClass(abstractSyntaxUid)) return { accept: false, reason: 'abstract-syntax' };
  const readable = proposed.find((uid) => lookupTransferSyntax(uid) !== undefined);
  return readable ? { accept: true, transferSyntaxUid: readable } : { accept: false, reason: 'transfer-syntax' };
}
