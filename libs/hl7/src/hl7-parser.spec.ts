import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { Hl7ErrorCode } from './hl7-handler.js';
import { checkHeader, parseHl7, type ParsedHl7Message } from './hl7-parser.js';

const sample = (name: string): Buffer => readFileSync(join(process.cwd(), 'integration-specs/hl7/samples', name));

function parsed(bytes: Buffer | string): ParsedHl7Message {
  const outcome = parseHl7(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  if (!outcome.ok) throw new Error(`not parsed: ${outcome.error.message}`);
  return outcome.message;
}

function refused(bytes: Buffer | string): { code: string; status: string; location?: string; text: string } {
  const outcome = parseHl7(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  if (outcome.ok) throw new Error('parsed');
  return { code: outcome.error.code, status: outcome.error.status, location: outcome.error.location, text: outcome.error.message };
}

describe('parseHl7', () => {
  it('reads the header and positions like the standard (PID-3.4, repetitions from 0)', () => {
    const m = parsed(sample('adt-a01-admit.hl7'));
    expect({
      type: m.messageType,
      trigger: m.triggerEvent,
      controlId: m.controlId,
      from: `${m.sendingApplication}@${m.sendingFacility}`,
      to: `${m.receivingApplication}@${m.receivingFacility}`,
      version: m.version,
      dateTime: m.dateTime,
      charset: m.characterSet,
      processingId: m.processingId,
    }).toEqual({
      type: 'ADT',
      trigger: 'A01',
      controlId: 'ADT-A01-0001',
      from: 'RIS@NORTHSIDE',
      to: 'VNA@NORTHSIDE',
      version: '2.5.1',
      dateTime: '20241115083000+0100',
      charset: 'UNICODE UTF-8',
      processingId: 'P',
    });
    expect(m.segments.map((s) => s.name)).toEqual(['MSH', 'EVN', 'PID', 'PV1']);
    const pid = m.segment('PID')!;
    expect(pid.get(3)).toBe('NS100001');
    expect(pid.get(3, 4)).toBe('NORTHSIDE');
    expect(pid.get(3, 5)).toBe('MR');
    expect(pid.repetitions(3)).toBe(2);
    expect(pid.get(3, 1, 1, 1)).toBe('SSN-FAKE-0001');
    expect(pid.get(3, 1, 1, 2)).toBe('');
    expect(pid.get(5, 1)).toBe('Testperson');
    expect(pid.get(5, 2)).toBe('Anna');
    expect(pid.get(7)).toBe('19800214');
    expect(pid.get(99)).toBe('');
    expect(pid.repetitions(2)).toBe(0);
    expect(pid.repetitions(99)).toBe(0);
    expect(m.segment('ZZZ')).toBeUndefined();
    expect(m.all('PID')).toHaveLength(1);
    const msh = m.segment('MSH')!;
    expect([msh.get(1), msh.get(2), msh.get(3), msh.get(9, 3), msh.get(15)]).toEqual(['|', '^~\\&', 'RIS', 'ADT_A01', 'AL']);
  });

  it('unescapes values, subcomponents included, with the message’s own encoding characters', () => {
    const m = parsed(sample('adt-a08-escapes.hl7'));
    const pid = m.segment('PID')!;
    expect(pid.get(5, 1)).toBe('Smith|Jones');
    expect(pid.get(5, 2)).toBe('Chris^Kim');
    expect(pid.get(11, 1)).toBe('Flat 2&3~Annex\\B');
    expect(m.segment('NTE')!.get(3)).toBe('café line one\nline two');

    const own = parsed(sample('adt-a08-custom-delimiters.hl7'));
    expect([own.messageType, own.triggerEvent, own.controlId, own.version]).toEqual(['ADT', 'A08', 'ADT-A08-0004', '2.3']);
    const p = own.segment('PID')!;
    expect(p.repetitions(3)).toBe(2);
    expect(p.get(3, 4, 1, 1)).toBe('EASTSIDE');
    expect(p.get(3, 1, 1, 1)).toBe('ES-OLD-7');
    expect(p.get(5, 1)).toBe('Example');
    expect(p.get(5, 2)).toBe('Max#Moritz');
    expect(own.segment('MSH')!.get(2)).toBe('!@$%');
  });

  it('decodes the MSH-18 character set: UTF-8, 8859/1, and more', () => {
    const utf8 = parsed(sample('adt-a08-update-utf8.hl7')).segment('PID')!;
    expect(utf8.get(5, 1)).toBe('Müller-Lüdenscheidt');
    expect(utf8.get(5, 1, 1, 1)).toBe('Μουλλερ');
    const latin1 = parsed(sample('adt-a08-update-latin1.hl7'));
    expect(latin1.charset).toBe('iso-8859-1');
    expect(latin1.segment('PID')!.get(5, 1)).toBe('Gonçalves');
    expect(latin1.segment('PID')!.get(5, 2)).toBe('Inês');
    const gb = Buffer.concat([
      Buffer.from('MSH|^~\\&|A|B|VNA|B|20240101||ADT^A08|GB1|P|2.5.1||||||GB 18030-2000\rPID|1||X1||', 'latin1'),
      iconv.encode('王^小明', 'gb18030'),
      Buffer.from('\r'),
    ]);
    const pid = parsed(gb).segment('PID')!;
    expect([pid.get(5, 1), pid.get(5, 2)]).toEqual(['王', '小明']);
    const greek = Buffer.concat([Buffer.from('MSH|^~\\&|A|B|VNA|B|20240101||ADT^A08|G1|P|2.5.1||||||8859/7\rPID|1||X1||', 'latin1'), iconv.encode('Δοκιμή^Άννα', 'iso-8859-7')]);
    expect(parsed(greek).segment('PID')!.get(5, 1)).toBe('Δοκιμή');
  });

  it('reads a message without MSH-18 as ASCII, else UTF-8 when valid, else 8859/1', () => {
    const head = 'MSH|^~\\&|A|B|VNA|B|20240101||ADT^A08|D1|P|2.5.1\rPID|1||X1||';
    expect(parsed(Buffer.concat([Buffer.from(head), Buffer.from('Müller', 'utf8')])).segment('PID')!.get(5)).toBe('Müller');
    expect(parsed(Buffer.concat([Buffer.from(head), Buffer.from('Müller', 'latin1')])).segment('PID')!.get(5)).toBe('Müller');
    expect(parsed(head + 'Plain').charset).toBe('ascii');
  });

  it('takes CR LF or LF as segment terminators, a leading BOM or blank lines', () => {
    const m = parsed('\xef\xbb\xbf\r\nMSH|^~\\&|A|B|VNA|B|20240101||ADT^A08|L1|P|2.5.1\r\nEVN|A08\n\nPID|1||X1\r\n');
    expect(m.segments.map((s) => s.name)).toEqual(['MSH', 'EVN', 'PID']);
    expect(m.segment('PID')!.get(3)).toBe('X1');
  });

  it('refuses what it cannot read, with the table 0357 code and the location', () => {
    expect(refused(sample('bad-no-msh.hl7'))).toMatchObject({ status: 'AR', code: Hl7ErrorCode.SegmentSequenceError, location: 'MSH' });
    expect(refused(Buffer.from([0x00, 0xff, 0x13, 0x37]))).toMatchObject({ status: 'AR', code: Hl7ErrorCode.SegmentSequenceError });
    expect(refused('BHS|^~\\&|A\rMSH|^~\\&|A')).toMatchObject({ code: Hl7ErrorCode.SegmentSequenceError, text: expect.stringContaining('batch') });
    expect(refused(sample('bad-encoding-characters.hl7'))).toMatchObject({ status: 'AR', code: Hl7ErrorCode.DataTypeError, location: 'MSH^1^2' });
    for (const bad of ['MSH|^~\\|', 'MSH|^~\\&&|', 'MSH|^~|&|', 'MSHA^~\\&|', 'MSH|^~\\a|', 'MSH']) {
      expect(refused(`${bad}A|B|C|D|20240101||ADT^A08|X|P|2.5`).location).toBe('MSH^1^2');
    }
    expect(refused('MSH|^~\\&|A|B|VNA|B|20240101||ADT^A08|C1|P|2.5.1||||||ISO IR87')).toMatchObject({ code: Hl7ErrorCode.TableValueNotFound, location: 'MSH^1^18' });
    expect(refused(Buffer.concat([Buffer.from('MSH|^~\\&|A|B|VNA|B|20240101||ADT^A08|C2|P|2.5.1||||||UNICODE UTF-8\rPID|1||'), Buffer.from([0xc3, 0x28])]))).toMatchObject({
      code: Hl7ErrorCode.DataTypeError,
      location: 'MSH^1^18',
    });
    expect(refused('MSH|^~\\&|A|B|VNA|B|20240101||ADT^A08|S1|P|2.5.1\rPI|1')).toMatchObject({ code: Hl7ErrorCode.SegmentSequenceError, text: expect.stringContaining('segment 2') });
    expect(refused('MSH|^~\\&|A|B|VNA|B|20240101||ADT^A08|S1|P|2.5.1\rMSH|^~\\&|A|B')).toMatchObject({ text: expect.stringContaining('batches') });
  });

  it('keeps what it could read of a refused header, for the AR', () => {
    const outcome = parseHl7(sample('bad-encoding-characters.hl7'));
    expect(outcome.ok).toBe(false);
    expect(outcome.header.fields).toMatchObject({ 3: 'RIS', 4: 'NORTHSIDE', 10: 'BAD-ENC-0001', 12: '2.5.1' });
  });

  it('gives the same content digest to a re-sent copy with a new MSH-7, a different one to other content', () => {
    const digest = (s: string): string => {
      const o = parseHl7(Buffer.from(s));
      if (!o.ok) throw new Error('not parsed');
      return o.contentDigest.toString('hex');
    };
    const a = digest('MSH|^~\\&|A|B|VNA|B|20240101||ADT^A08|X|P|2.5.1\rPID|1||X1');
    expect(digest('MSH|^~\\&|A|B|VNA|B|20240102||ADT^A08|X|P|2.5.1\rPID|1||X1')).toBe(a);
    expect(digest('MSH|^~\\&|A|B|VNA|B|20240101||ADT^A08|X|P|2.5.1\rPID|1||X2')).not.toBe(a);
    expect(digest('MSH|^~\\&|A|B|VNA|B|20240101||ADT^A31|X|P|2.5.1\rPID|1||X1')).not.toBe(a);
  });
});

describe('checkHeader', () => {
  const header = (msh: string) => checkHeader(parsed(`${msh}\rEVN|A08`));

  it('passes a complete header', () => {
    expect(header('MSH|^~\\&|A|B|VNA|B|20240101||ADT^A08|X|P|2.5.1')).toBeUndefined();
  });

  it('names the missing required field (101) and its location', () => {
    expect(header('MSH|^~\\&|A|B|VNA|B|20240101||ADT^A08||P|2.5.1')).toMatchObject({ status: 'AR', code: '101', location: 'MSH^1^10' });
    expect(header('MSH|^~\\&|A|B|VNA|B|20240101||^A08|X|P|2.5.1')).toMatchObject({ code: '101', location: 'MSH^1^9^1^1' });
    expect(header('MSH|^~\\&|A|B|VNA|B|20240101||ADT|X|P|2.5.1')).toMatchObject({ code: '101', location: 'MSH^1^9^1^2' });
    expect(header('MSH|^~\\&|A|B|VNA|B|||ADT^A08|X|P|2.5.1')).toMatchObject({ code: '101', location: 'MSH^1^7' });
    expect(header('MSH|^~\\&|A|B|VNA|B|20240101||ADT^A08|X||2.5.1')).toMatchObject({ code: '101', location: 'MSH^1^11' });
    expect(header('MSH|^~\\&|A|B|VNA|B|20240101||ADT^A08|X|P')).toMatchObject({ code: '101', location: 'MSH^1^12' });
  });

  it('refuses an unknown processing id (202) and a version that is not 2.x (203)', () => {
    expect(header('MSH|^~\\&|A|B|VNA|B|20240101||ADT^A08|X|Q|2.5.1')).toMatchObject({ code: '202', location: 'MSH^1^11' });
    expect(header('MSH|^~\\&|A|B|VNA|B|20240101||ADT^A08|X|P|3.0')).toMatchObject({ code: '203', location: 'MSH^1^12' });
  });
});
