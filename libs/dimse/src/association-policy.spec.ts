import { describe, expect, it } from '@jest/globals';
import { TS } from '#vna/dicom';
import { decideContext, isServiceClass, isStorageClass, SopClass } from './association-policy.js';

const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
const ENHANCED_SR = '1.2.840.10008.5.1.4.1.1.88.22';
const SIEMENS_CSA_NON_IMAGE = '1.3.12.2.1107.5.9.1';
const MODALITY_WORKLIST_FIND = '1.2.840.10008.5.1.4.31';
const MPPS = '1.2.840.10008.3.1.2.3.3';
const STORAGE_COMMITMENT_PUSH = '1.2.840.10008.1.20.1';
const COMPOSITE_INSTANCE_ROOT_GET = '1.2.840.10008.5.1.4.1.2.4.3';

describe('decideContext: storage', () => {
  it('accepts the first proposed syntax it can read, compressed ones included, and keeps it', () => {
    expect(decideContext(CT_IMAGE_STORAGE, [TS.JPEG2000Lossless, TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian])).toEqual({
      accept: true,
      transferSyntaxUid: TS.JPEG2000Lossless,
    });
    expect(decideContext(CT_IMAGE_STORAGE, [TS.ImplicitVRLittleEndian, TS.ExplicitVRLittleEndian])).toEqual({
      accept: true,
      transferSyntaxUid: TS.ImplicitVRLittleEndian,
    });
  });

  it('accepts big endian, deflate, RLE and the encapsulated family as received', () => {
    for (const ts of [TS.ExplicitVRBigEndian, TS.DeflatedExplicitVRLittleEndian, TS.RLELossless, TS.JPEGLSLossless, '1.2.840.10008.1.2.4.201']) {
      expect(decideContext(CT_IMAGE_STORAGE, [ts])).toEqual({ accept: true, transferSyntaxUid: ts });
    }
  });

  it('skips syntaxes it does not know and takes the next one', () => {
    expect(decideContext(CT_IMAGE_STORAGE, ['1.2.3.4.5', '1.2.840.10008.1.2.9', TS.ExplicitVRLittleEndian])).toEqual({
      accept: true,
      transferSyntaxUid: TS.ExplicitVRLittleEndian,
    });
  });

  it('refuses the context when no proposed syntax is readable', () => {
    expect(decideContext(CT_IMAGE_STORAGE, ['1.2.3.4.5'])).toEqual({ accept: false, reason: 'transfer-syntax' });
    expect(decideContext(CT_IMAGE_STORAGE, [])).toEqual({ accept: false, reason: 'transfer-syntax' });
  });

  it('takes any other SOP class, private and future ones included, for storage', () => {
    for (const sopClass of [ENHANCED_SR, SIEMENS_CSA_NON_IMAGE, '1.2.840.113619.4.26', '1.2.840.10008.5.1.4.1.1.999']) {
      expect(isStorageClass(sopClass)).toBe(true);
      expect(decideContext(sopClass, [TS.ExplicitVRLittleEndian])).toEqual({ accept: true, transferSyntaxUid: TS.ExplicitVRLittleEndian });
    }
  });
});

describe('decideContext: services', () => {
  it('echo, find, move and get prefer explicit VR little endian', () => {
    for (const sopClass of Object.values(SopClass)) {
      expect(isServiceClass(sopClass)).toBe(true);
      expect(isStorageClass(sopClass)).toBe(false);
      expect(decideContext(sopClass, [TS.ImplicitVRLittleEndian, TS.ExplicitVRLittleEndian])).toEqual({
        accept: true,
        transferSyntaxUid: TS.ExplicitVRLittleEndian,
      });
    }
  });

  it('fall back to implicit VR little endian', () => {
    expect(decideContext(SopClass.Verification, [TS.ExplicitVRBigEndian, TS.ImplicitVRLittleEndian])).toEqual({
      accept: true,
      transferSyntaxUid: TS.ImplicitVRLittleEndian,
    });
  });

  it('are refused in any other syntax, even one storage could read', () => {
    for (const ts of [TS.ExplicitVRBigEndian, TS.DeflatedExplicitVRLittleEndian, TS.JPEGBaseline8Bit]) {
      expect(decideContext(SopClass.StudyRootFind, [ts])).toEqual({ accept: false, reason: 'transfer-syntax' });
    }
  });
});

describe('decideContext: Modality Worklist', () => {
  it('accepts Modality Worklist FIND in Explicit or Implicit VR Little Endian, explicit first', () => {
    expect(SopClass.ModalityWorklistFind).toBe(MODALITY_WORKLIST_FIND);
    expect(isServiceClass(MODALITY_WORKLIST_FIND)).toBe(true);
    expect(isStorageClass(MODALITY_WORKLIST_FIND)).toBe(false);
    expect(decideContext(MODALITY_WORKLIST_FIND, [TS.ImplicitVRLittleEndian, TS.ExplicitVRLittleEndian])).toEqual({ accept: true, transferSyntaxUid: TS.ExplicitVRLittleEndian });
    expect(decideContext(MODALITY_WORKLIST_FIND, [TS.ImplicitVRLittleEndian])).toEqual({ accept: true, transferSyntaxUid: TS.ImplicitVRLittleEndian });
    expect(decideContext(MODALITY_WORKLIST_FIND, [TS.ExplicitVRBigEndian])).toEqual({ accept: false, reason: 'transfer-syntax' });
  });
});

describe('decideContext: services the archive does not provide', () => {
  it('refuses the non-storage classes it does not provide by abstract syntax', () => {
    for (const sopClass of ['1.2.840.10008.5.1.4.32.1', MPPS, STORAGE_COMMITMENT_PUSH, COMPOSITE_INSTANCE_ROOT_GET, '1.2.840.10008.5.1.1.9']) {
      expect(isStorageClass(sopClass)).toBe(false);
      expect(decideContext(sopClass, [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian])).toEqual({ accept: false, reason: 'abstract-syntax' });
    }
  });

  it('refuses Unified Procedure Step and Instance Availability Notification rather than taking them for storage', () => {
    const UPS_PUSH = '1.2.840.10008.5.1.4.34.6.1';
    const UPS_PULL = '1.2.840.10008.5.1.4.34.6.3';
    const INSTANCE_AVAILABILITY_NOTIFICATION = '1.2.840.10008.5.1.4.33';
    for (const sopClass of [UPS_PUSH, UPS_PULL, INSTANCE_AVAILABILITY_NOTIFICATION]) {
      expect(decideContext(sopClass, [TS.ExplicitVRLittleEndian])).toEqual({ accept: false, reason: 'abstract-syntax' });
    }
  });
});
