import { describe, expect, it } from '@jest/globals';
import { canonicalJson, linkedRowState, receivedRowState, sameRowState, sexToDicom } from './index-projection.js';
import type { RegistryPatientState } from './registry.model.js';

const patient: RegistryPatientState = {
  id: '7',
  status: 'active',
  mergedInto: null,
  name: { alphabetic: 'Yamada^Tarou', ideographic: '山田^太郎', phonetic: '' },
  birthDate: '19700102',
  sex: 'M',
  version: 3,
  identifiers: [
    { patientId: 'NHS-9', issuer: 'NHS', typeCode: 'NH', position: 1, status: 'active' },
    { patientId: 'MRN-1', issuer: 'HOSP-A', typeCode: 'MR', position: 0, status: 'active' },
    { patientId: 'OLD-1', issuer: 'HOSP-A', typeCode: 'MR', position: 0, status: 'replaced' },
  ],
};

const received = {
  patientId: 'MRN-1',
  issuer: '',
  attributes: {
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'YAMADA^TARO' }] },
    '00100020': { vr: 'LO', Value: ['MRN-1'] },
    '00100030': { vr: 'DA', Value: ['19700101'] },
  },
};

describe('index row state from the registry', () => {
  it("carries the patient's identifier in the row's own issuer (the default issuer for none), the registry's demographics and an overlay of them", () => {
    const state = linkedRowState(received, patient, { registryFk: '7', registryLink: 'identity' }, 'HOSP-A');
    expect(state).toMatchObject({
      registryFk: '7',
      registryLink: 'identity',
      currentPatientId: 'MRN-1',
      currentIssuer: 'HOSP-A',
      nameAlphabetic: 'Yamada^Tarou',
      nameIdeographic: '山田^太郎',
      namePhonetic: '',
      birthDate: '19700102',
      sex: 'M',
    });
    expect(state.overlay).toEqual({
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' }] },
      '00100020': { vr: 'LO', Value: ['MRN-1'] },
      '00100021': { vr: 'LO', Value: ['HOSP-A'] },
      '00100030': { vr: 'DA', Value: ['19700102'] },
      '00100040': { vr: 'CS', Value: ['M'] },
      '00101002': {
        vr: 'SQ',
        Value: [{ '00100020': { vr: 'LO', Value: ['NHS-9'] }, '00100021': { vr: 'LO', Value: ['NHS'] }, '00100022': { vr: 'CS', Value: ['TEXT'] } }],
      },
    });
  });

  it('falls back to the primary identifier for a row of another issuer; replaced identifiers never show', () => {
    const state = linkedRowState({ ...received, patientId: 'X', issuer: 'OTHER' }, patient, { registryFk: '7', registryLink: 'manual' }, '');
    expect([state.currentPatientId, state.currentIssuer, state.registryLink]).toEqual(['MRN-1', 'HOSP-A', 'manual']);
    expect(JSON.stringify(state.overlay)).not.toContain('OLD-1');
  });

  it('lays empty attributes over received values the registry does not know (no partial DA, unknown sex)', () => {
    const state = linkedRowState(received, { ...patient, birthDate: '1970', sex: 'U', name: { alphabetic: '', ideographic: '', phonetic: '' } }, { registryFk: '7', registryLink: 'identity' }, 'HOSP-A');
    expect([state.birthDate, state.sex]).toEqual([null, null]);
    expect(state.overlay['00100010']).toEqual({ vr: 'PN' });
    expect(state.overlay['00100030']).toEqual({ vr: 'DA' });
    expect(state.overlay['00100040']).toEqual({ vr: 'CS' });
  });

  it('maps HL7 administrative sex to DICOM', () => {
    expect(['F', 'M', 'O', 'A', 'N', 'U', '', 'x'].map((s) => sexToDicom(s))).toEqual(['F', 'M', 'O', 'O', 'O', null, null, null]);
  });

  it('gives an unlinked row its received values back, nothing laid over', () => {
    expect(receivedRowState(received)).toEqual({
      registryFk: null,
      registryLink: null,
      currentPatientId: 'MRN-1',
      currentIssuer: '',
      nameAlphabetic: 'YAMADA^TARO',
      nameIdeographic: '',
      namePhonetic: '',
      birthDate: '19700101',
      sex: null,
      overlay: {},
    });
  });

  it('compares states whatever the key order (jsonb reorders keys)', () => {
    const a = linkedRowState(received, patient, { registryFk: '7', registryLink: 'identity' }, 'HOSP-A');
    const b = JSON.parse(canonicalJson(a)) as typeof a;
    expect(sameRowState(a, { ...b, overlay: Object.fromEntries(Object.entries(b.overlay).reverse()) })).toBe(true);
    expect(sameRowState(a, { ...a, sex: 'F' })).toBe(false);
  });
});
