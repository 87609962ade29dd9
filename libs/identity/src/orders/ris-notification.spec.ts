import { describe, expect, it } from '@jest/globals';
import { parseHl7 } from '#vna/hl7';
import { escapeHl7, outboundControlId, pnToXpn } from './hl7-writer.js';
import { buildStudyArrivedMessage, type StudyArrivedNotice } from './ris-notification.js';

const notice: StudyArrivedNotice = {
  sendingApplication: 'VNA',
  receivingApplication: 'RIS',
  receivingFacility: 'NORTHSIDE',
  controlId: 'V123',
  now: new Date(2024, 10, 20, 9, 30, 15),
  orderStatus: 'IP',
  patient: { id: 'P|1', issuer: 'NORTHSIDE', name: 'Doe^John^^Dr^Jr', birthDate: '19800214', sex: 'M' },
  order: { placerOrderNumber: 'PL-1', placerIssuer: 'RIS', fillerOrderNumber: 'FI-1', fillerIssuer: 'VNA', accessionNumber: 'A&B-1' },
  procedure: { requestedProcedureId: 'RP-1', code: { value: 'CTCHEST', scheme: 'L', meaning: 'CT chest' }, studyUid: '1.2.3.4' },
  step: { stepId: 'SPS-1', modality: 'CT' },
};

function parse(text: string) {
  const outcome = parseHl7(Buffer.from(text, 'utf8'));
  if (!outcome.ok) throw new Error(outcome.error.message);
  return outcome.message;
}

describe('the RIS notification (ORM^O01 ORC-1 SC)', () => {
  it('reads back as the order’s numbers, state and study, delimiters in values escaped', () => {
    const m = parse(buildStudyArrivedMessage(notice));
    expect([m.messageType, m.triggerEvent, m.controlId, m.version, m.sendingApplication, m.receivingApplication, m.receivingFacility, m.characterSet]).toEqual([
      'ORM',
      'O01',
      'V123',
      '2.3.1',
      'VNA',
      'RIS',
      'NORTHSIDE',
      '',
    ]);
    expect(m.dateTime).toBe('20241120093015');
    const pid = m.segment('PID')!;
    expect([pid.get(3), pid.get(3, 4), pid.get(5, 1), pid.get(5, 2), pid.get(5, 4), pid.get(5, 5), pid.get(7), pid.get(8)]).toEqual(['P|1', 'NORTHSIDE', 'Doe', 'John', 'Jr', 'Dr', '19800214', 'M']);
    const orc = m.segment('ORC')!;
    expect([orc.get(1), orc.get(2), orc.get(3), orc.get(5)]).toEqual(['SC', 'PL-1', 'FI-1', 'IP']);
    const obr = m.segment('OBR')!;
    expect([obr.get(4, 1), obr.get(4, 2), obr.get(18), obr.get(19), obr.get(20), obr.get(24)]).toEqual(['CTCHEST', 'CT chest', 'A&B-1', 'RP-1', 'SPS-1', 'CT']);
    expect(m.segment('ZDS')!.get(1)).toBe('1.2.3.4');
  });

  it('declares UNICODE UTF-8 when a value is not ASCII', () => {
    const m = parse(buildStudyArrivedMessage({ ...notice, patient: { ...notice.patient, name: 'Müller^Jürgen' } }));
    expect(m.characterSet).toBe('UNICODE UTF-8');
    expect(m.segment('PID')!.get(5, 1)).toBe('Müller');
  });

  it('writer pieces: escaping, PN to XPN, control ids of at most 20 characters, unique', () => {
    expect(escapeHl7('a|b^c&d~e\\f')).toBe('a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f');
    expect(pnToXpn('Doe^John^M^Dr^Jr=ドウ^ジョン')).toBe('Doe^John^M^Jr^Dr');
    const ids = new Set(Array.from({ length: 100 }, () => outboundControlId()));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id.length).toBeLessThanOrEqual(20);
  });
});
