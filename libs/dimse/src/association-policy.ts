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
} as const;

const SERVICES = new Set<string>(Object.values(SopClass));

/**
 * Services the archive does not provide; any other abstract syntax is taken for a storage SOP
 * class, so that private and future storage classes (vendors', migrations') are archived too.
 */
const NOT_STORAGE_PREFIXES = [
  '1.2.840.10008.5.1.4.1.2.', // other query/retrieve models (composite instance, withdrawn)
  '1.2.840.10008.5.1.4.31', // Modality Worklist (not yet served)
  '1.2.840.10008.5.1.4.32', // General Purpose Worklist
  '1.2.840.10008.3.1.', // MPPS, storage commitment, detached management
  '1.2.840.10008.5.1.1.', // print management
  '1.2.840.10008.1.20', // storage commitment push
  '1.2.840.10008.1.40', // procedural event logging
  '1.2.840.10008.1.9', // basic study content notification
];

export type ContextDecision =
  | { readonly accept: true; readonly transferSyntaxUid: string }
  | { readonly accept: false; readonly reason: 'abstract-syntax' | 'transfer-syntax' };

export function isServiceClass(abstractSyntaxUid: string): boolean {
  return SERVICES.has(abstractSyntaxUid);
}

export function isStorageClass(abstractSyntaxUid: string): boolean {
  if (SERVICES.has(abstractSyntaxUid)) return false;
  return !NOT_STORAGE_PREFIXES.some((p) => abstractSyntaxUid.startsWith(p));
}

/**
 * Chooses the transfer syntax of a proposed presentation context (PS3.8 7.1.1.13). Storage takes
 * the first proposed syntax the archive can read: objects are kept in the encoding they came in,
 * compressed or not. Services (echo, find, move, get) use Explicit VR Little Endian when offered.
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
