import { describe, expect, it } from '@jest/globals';
import { ackControlId, buildAck, hl7Timestamp } from './hl7-ack.js';
import { parseHl7 } from './hl7-parser.js';

const NOW = new Date(2024, 10, 15, 8, 30, 5);

function header(text: string) {
  return parseHl7(Buffer.from(text, 'latin1')).header;
}

function segments(text: string): string[][] {
  return text
    .split('\r')
    .filter(Boolean)
    .map((s) => s.split('|'));
}

describe('buildAck (original mode, HL7 2.5.1 2.9.2)', () => {
  const message = 'MSH|^~\\&|RIS|NORTHSIDE|VNA|ARCHIVE|20241115083000||ADT^A08^ADT_A01|CTRL-1|P|2.5.1|||AL|NE||UNICODE UTF-8\rEVN|A08';

  it('answers AA with sender and receiver swapped, its own control id, MSA-2 the message’s MSH-10', () => {
    const ack = buildAck({ header: header(message), code: 'AA', controlId: 'ACK-1', now: NOW });
    expect(ack.text.endsWith('\r')).toBe(true);
    const [msh, msa, ...rest] = segments(ack.text);
    expect(msh).toEqual(['MSH', '^~\\&', 'VNA', 'ARCHIVE', 'RIS', 'NORTHSIDE', hl7Timestamp(NOW), '', 'ACK^A08^ACK', 'ACK-1', 'P', '2.5.1', '', '', '', '', '', 'UNICODE UTF-8']);
    expect(msa).toEqual(['MSA', 'AA', 'CTRL-1']);
    expect(rest).toEqual([]);
    expect(ack.bytes.equals(Buffer.from(ack.text, 'utf8'))).toBe(true);
  });

  it('adds ERR (location, table 0357 code, severity E, user message) on AE/AR, escaped', () => {
    const ack = buildAck({ header: header(message), code: 'AE', controlId: 'ACK-2', now: NOW, error: { code: '101', text: 'PID-3 is required | really', location: 'PID^1^3' } });
    const [, msa, err] = segments(ack.text);
    expect(msa).toEqual(['MSA', 'AE', 'CTRL-1', 'PID-3 is required \\F\\ really']);
    expect(err).toEqual(['ERR', '', 'PID^1^3', '101^Required field missing^HL70357', 'E', '', '', '', 'PID-3 is required \\F\\ really']);
  });

  it('writes in the message’s own delimiters, echoing its fields as received', () => {
    const own = 'MSH#!@$%#LEGACY!X#EAST#VNA#EAST#20241115##ADT!A08#C$F$1#P#2.3';
    const ack = buildAck({ header: header(own), code: 'AR', controlId: 'ACK-3', now: NOW, error: { code: '200', text: 'a#b', location: 'MSH^1^9^1^1' } });
    const lines = ack.text.split('\r');
    expect(lines[0]).toBe(`MSH#!@$%#VNA#EAST#LEGACY!X#EAST#${hl7Timestamp(NOW)}##ACK!A08!ACK#ACK-3#P#2.3`);
    expect(lines[1]).toBe('MSA#AR#C$F$1#a$F$b');
    expect(lines[2]).toBe('ERR##MSH!1!9!1!1#200!Unsupported message type!HL70357#E####a$F$b');
  });

  it('answers a frame without a usable MSH as best it can', () => {
    const none = buildAck({ header: parseHl7(Buffer.from([1, 2, 3])).header, code: 'AR', controlId: 'ACK-4', now: NOW, error: { code: '100', text: 'no MSH', location: 'MSH' } });
    expect(segments(none.text).map((s) => s.slice(0, 4))).toEqual([
      ['MSH', '^~\\&', 'VNA', ''],
      ['MSA', 'AR', '', 'no MSH'],
      ['ERR', '', 'MSH', '100^Segment sequence error^HL70357'],
    ]);
    // Bad encoding characters: the fields are read on the field separator and echoed as text.
    const bad = buildAck({ header: header('MSH|^^\\&|RIS^X|NORTH|VNA|ARCH|2024||ADT^A08|C^9|P|2.5'), code: 'AR', controlId: 'ACK-5', now: NOW, error: { code: '102', text: 'bad' } });
    const [msh, msa] = segments(bad.text);
    expect(msh!.slice(0, 6)).toEqual(['MSH', '^~\\&', 'VNA', 'ARCH', 'RIS\\S\\X', 'NORTH']);
    expect(msh![8]).toBe('ACK^^ACK');
    expect(msa!.slice(0, 3)).toEqual(['MSA', 'AR', 'C\\S\\9']);
  });

  it('encodes the ACK in the message’s character set', () => {
    const latin = header('MSH|^~\\&|RIS|SÜD|VNA|B|2024||ADT^A08|C1|P|2.5||||||8859/1');
    const ack = buildAck({ header: latin, code: 'AE', controlId: 'ACK-6', now: NOW, error: { code: '207', text: 'Fehler: ä' } });
    expect(ack.bytes.includes(Buffer.from('SÜD', 'latin1'))).toBe(true);
    expect(ack.bytes.includes(Buffer.from('Fehler: ä', 'latin1'))).toBe(true);
    const ascii = buildAck({ header: header('MSH|^~\\&|RIS|S|VNA|B|2024||ADT^A08|C1|P|2.5'), code: 'AE', controlId: 'ACK-7', now: NOW, error: { code: '207', text: 'Fehler: ä' } });
    expect(ascii.text).toContain('Fehler: ?');
  });

  it('makes short unique control ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => ackControlId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id.length).toBeLessThanOrEqual(20);
  });
});
