import { describe, expect, it } from '@jest/globals';
import { type Hl7Message, Hl7ProcessingError, parseHl7 } from '#vna/hl7';
import { mergeCommands, nameGroups, patientCommand, xpnToPn } from './adt-message.parser.js';

/** A message from segments (ER7, CR-separated), parsed as the listener parses it. */
function message(...segments: string[]): Hl7Message {
  const text = ['MSH|^~\\&|HIS|HOSP|VNA|HOSP|20240601120000||ADT^A08|MSG1|P|2.5.1|||||||UNICODE UTF-8', ...segments].join('\r');
  const parsed = parseHl7(Buffer.from(text, 'utf8'));
  if (!parsed.ok) throw parsed.error;
  return parsed.message;
}

function pid(fields: string): Hl7Message {
  return message(`PID|1||${fields}`);
}

function error(f: () => unknown): Hl7ProcessingError {
  try {
    f();
  } catch (e) {
    if (e instanceof Hl7ProcessingError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('PID to a registry command', () => {
  it('reads every PID-3 repetition with its assigning authority (HD-1, else HD-2) and type code, the default issuer for none', () => {
    const m = pid('MRN-1^^^HOSP-A^MR~NHS-9^^^&2.16.840.1.113883.2.1.4.1&ISO^NH~LOCAL-7^^^^PI~MRN-1^^^HOSP-A^MR||Doe^John');
    const command = patientCommand(m.segment('PID'), 'DEFAULT');
    expect(command.identifiers).toEqual([
      { patientId: 'MRN-1', issuer: 'HOSP-A', typeCode: 'MR' },
      { patientId: 'NHS-9', issuer: '2.16.840.1.113883.2.1.4.1', typeCode: 'NH' },
      { patientId: 'LOCAL-7', issuer: 'DEFAULT', typeCode: 'PI' },
    ]);
  });

  it('refuses a PID without an identifier: AE 101 at PID^1^3', () => {
    for (const m of [pid('||Doe^John'), pid('^^^HOSP-A||Doe^John'), message('EVN|A08')]) {
      const e = error(() => patientCommand(m.segment('PID'), ''));
      expect(e.status).toBe('AE');
      if (m.segment('PID')) {
        expect(e.code).toBe('101');
        expect(e.location).toBe('PID^1^3');
      }
    }
  });

  it('reads name, birth date and sex; an empty field is "not sent", "" deletes', () => {
    const full = patientCommand(pid('MRN-1^^^HOSP-A||Doe^John^Q^Jr^Dr^PhD||19700102123000|F').segment('PID'), '');
    expect(full.demographics).toEqual({ name: { alphabetic: 'Doe^John^Q^Dr^Jr PhD', ideographic: '', phonetic: '' }, birthDate: '19700102', sex: 'F' });
    const none = patientCommand(pid('MRN-1^^^HOSP-A').segment('PID'), '');
    expect(none.demographics).toEqual({});
    const deleted = patientCommand(pid('MRN-1^^^HOSP-A||""||""|""').segment('PID'), '');
    expect(deleted.demographics).toEqual({ name: null, birthDate: null, sex: null });
    const partial = patientCommand(pid('MRN-1^^^HOSP-A||||1970').segment('PID'), '');
    expect(partial.demographics.birthDate).toBe('1970');
  });

  it('refuses a birth date that is not a date: AE 102 at PID^1^7', () => {
    const e = error(() => patientCommand(pid('MRN-1^^^HOSP-A||Doe||1970-01-02').segment('PID'), ''));
    expect([e.status, e.code, e.location]).toEqual(['AE', '102', 'PID^1^7']);
  });
});

describe('XPN to DICOM PN', () => {
  it('maps family^given^middle^suffix^prefix^degree to family^given^middle^prefix^suffix, dropping empty trailing components', () => {
    const m = pid('X||Smith&van^Anna^^^^^L~Doe^^^^Mrs');
    const segment = m.segment('PID')!;
    expect(xpnToPn(segment, 5, 0)).toBe('Smith^Anna');
    expect(xpnToPn(segment, 5, 1)).toBe('Doe^^^Mrs');
  });

  it('takes the groups from the representation code (XPN-8): alphabetic first, then ideographic and phonetic', () => {
    const m = pid('X||Yamada^Tarou^^^^^L^A~山田^太郎^^^^^L^I~やまだ^たろう^^^^^L^P~Alias^Other^^^^^A');
    expect(nameGroups(m.segment('PID')!, 5)).toEqual({ alphabetic: 'Yamada^Tarou', ideographic: '山田^太郎', phonetic: 'やまだ^たろう' });
  });

  it('takes the alphabetic group from the first XPN without a code, and keeps PN delimiters out of components', () => {
    const m = pid('X||O\\S\\Neil=x^Pat~Second^Name');
    expect(nameGroups(m.segment('PID')!, 5)).toEqual({ alphabetic: 'O Neil x^Pat', ideographic: '', phonetic: '' });
  });
});

describe('MRG to merge commands', () => {
  it('pairs each MRG with the PID before it (A40 PATIENT group repeats)', () => {
    const m = message(
      'EVN|A40',
      'PID|1||SURV-1^^^HOSP-A^MR||Doe^Jane||19800101|F',
      'MRG|PRIOR-1^^^HOSP-A~OLD-1^^^HOSP-B||||||Doe^J',
      'PID|2||SURV-2^^^HOSP-A',
      'MRG|PRIOR-2',
    );
    const commands = mergeCommands(m, 'merge', 'DEF');
    expect(commands).toHaveLength(2);
    expect(commands[0]).toEqual({
      kind: 'merge',
      prior: { patientId: 'PRIOR-1', issuer: 'HOSP-A', typeCode: '' },
      priorOthers: [{ patientId: 'OLD-1', issuer: 'HOSP-B', typeCode: '' }],
      priorName: { alphabetic: 'Doe^J', ideographic: '', phonetic: '' },
      surviving: { identifiers: [{ patientId: 'SURV-1', issuer: 'HOSP-A', typeCode: 'MR' }], demographics: { name: { alphabetic: 'Doe^Jane', ideographic: '', phonetic: '' }, birthDate: '19800101', sex: 'F' } },
    });
    expect(commands[1]!.prior).toEqual({ patientId: 'PRIOR-2', issuer: 'DEF', typeCode: '' });
  });

  it('refuses a merge without MRG-1 (AE 101 at MRG^1^1), without MRG, or with a PID without identifier (PID^n^3)', () => {
    expect(error(() => mergeCommands(message('PID|1||S^^^H', 'MRG|^^^H'), 'merge', '')).location).toBe('MRG^1^1');
    expect(error(() => mergeCommands(message('PID|1||S^^^H'), 'change-identifier', '')).location).toBe('MRG');
    const e = error(() => mergeCommands(message('PID|1||S^^^H', 'MRG|P^^^H', 'PID|2||', 'MRG|Q^^^H'), 'merge', ''));
    expect([e.code, e.location]).toEqual(['101', 'PID^2^3']);
  });
});
