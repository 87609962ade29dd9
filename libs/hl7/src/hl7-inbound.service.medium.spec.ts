import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Hl7Harness, startHl7 } from '../../../test/support/hl7.js';
import { type MediumEnv, mediumEnv } from '../../../test/support/medium.js';
import { hl7, parseAck } from '../../../test/support/mllp.js';
import { type Hl7Handler, Hl7ProcessingError } from './hl7-handler.js';
import type { InboundAnswer } from './hl7-inbound.service.js';

/**
 * The inbound flow against real PostgreSQL: one transaction for the raw message and its effects,
 * the ACK after the commit, idempotency on sender + MSH-10, handler errors kept as AE/AR with the
 * handler's writes undone, unexpected errors leaving nothing behind.
 */

const sample = (name: string): Buffer => readFileSync(join(process.cwd(), 'integration-specs/hl7/samples', name));

function msh(type: string, controlId: string, extra: { app?: string; facility?: string; charset?: string } = {}): string {
  return `MSH|^~\\&|${extra.app ?? 'RIS'}|${extra.facility ?? 'NORTHSIDE'}|VNA|ARCHIVE|20241115083000||${type}|${controlId}|P|2.5.1|||AL|NE||${extra.charset ?? ''}`;
}

function message(type: string, controlId: string, pid = 'PID|1||P-1^^^NORTHSIDE^MR||Testperson^Anna', extra = {}): Buffer {
  return Buffer.from(hl7(msh(type, controlId, extra), `EVN|${type.split('^')[1]}`, pid), 'utf8');
}

/** Effects the fake handlers write, in the message's transaction. */
async function effects(h: Hl7Harness): Promise<{ message_id: string; value: string }[]> {
  return (await h.db.query(`SELECT message_id::text, value FROM hl7_test_effect ORDER BY seq`)) as { message_id: string; value: string }[];
}

async function rows(h: Hl7Harness, controlId: string): Promise<Record<string, unknown>[]> {
  return (await h.db.query(`SELECT * FROM hl7_message WHERE control_id = $1`, [controlId])) as Record<string, unknown>[];
}

let failNext = false;

const write: Hl7Handler = async (m, { tx, messageId }) => {
  await tx.query(`INSERT INTO hl7_test_effect (message_id, value) VALUES ($1, $2)`, [messageId, `${m.triggerEvent}:${m.controlId}`]);
};

const HANDLERS: Record<string, Hl7Handler> = {
  'ADT^A01': async (m, ctx) => {
    await write(m, ctx);
    return { patientIds: [m.segment('PID')!.get(3), `${m.segment('PID')!.get(3)}^${m.segment('PID')!.get(3, 4)}`], note: `by ${ctx.actor}` };
  },
  'ADT^A08': write,
  // Writes, then finds the content wrong: AE, and its write is undone.
  'ADT^A02': async (m, ctx) => {
    await write(m, ctx);
    throw new Hl7ProcessingError('AE', '101', 'PID-3 is required', 'PID^1^3');
  },
  'ADT^A05': async (m, ctx) => {
    await write(m, ctx);
    throw new Hl7ProcessingError('AR', '204', 'the patient is not known');
  },
  // Fails unexpectedly once (a bug, a lost connection): nothing kept, the next copy goes through.
  'ADT^A03': async (m, ctx) => {
    await write(m, ctx);
    if (failNext) {
      failNext = false;
      throw new Error('handler blew up');
    }
  },
  // Slow, to hold the row lock while a copy arrives on another connection.
  'ADT^A04': async (m, ctx) => {
    await new Promise((r) => setTimeout(r, 300));
    await write(m, ctx);
  },
};

function receive(h: Hl7Harness, payload: Buffer): Promise<InboundAnswer> {
  return h.inbound.receive({ payload, receivedAt: new Date(), peer: '127.0.0.1:40000' });
}

describe('Hl7InboundService (local profile)', () => {
  let env: MediumEnv;
  let h: Hl7Harness;

  beforeAll(async () => {
    env = await mediumEnv('hl7inbound', { VNA_HL7_PORT: '0', VNA_HL7_ALLOWED_SENDERS: 'RIS@NORTHSIDE' });
    h = await startHl7(env, HANDLERS);
    await h.db.query(`CREATE TABLE hl7_test_effect (seq bigserial, message_id bigint, value text)`);
  });

  afterAll(async () => {
    await h?.close();
    await env?.cleanup();
  });

  it('applies a message and stores it, raw bytes and ACK, in one transaction (AA)', async () => {
    const payload = message('ADT^A01^ADT_A01', 'IN-AA-1');
    const answer = await receive(h, payload);
    const ack = parseAck(answer.ack.toString('utf8'));
    expect({ code: ack.code, acknowledges: ack.acknowledges, type: ack.type, error: ack.error }).toEqual({ code: 'AA', acknowledges: 'IN-AA-1', type: 'ACK^A01^ACK', error: undefined });
    const [row] = await rows(h, 'IN-AA-1');
    expect(row).toMatchObject({
      sending_application: 'RIS',
      sending_facility: 'NORTHSIDE',
      message_type: 'ADT',
      trigger_event: 'A01',
      version: '2.5.1',
      status: 'AA',
      final: true,
      patient_ids: ['P-1', 'P-1^NORTHSIDE'],
      note: 'by RIS@NORTHSIDE',
      ack: answer.ack.toString('utf8'),
      ack_control_id: ack.controlId,
      attempts: 1,
      error_code: null,
    });
    expect((row!['raw'] as Buffer).equals(payload)).toBe(true);
    expect(await effects(h)).toContainEqual({ message_id: String(row!['id']), value: 'A01:IN-AA-1' });
  });

  it('answers a re-sent message with the same ACK, applying nothing again', async () => {
    const payload = message('ADT^A08^ADT_A01', 'IN-DUP-1');
    const first = await receive(h, payload);
    // A copy with a renewed MSH-7 is still the same message.
    const again = await receive(h, Buffer.from(payload.toString('utf8').replace('20241115083000', '20241115083500')));
    const third = await receive(h, payload);
    expect(again.ack.equals(first.ack)).toBe(true);
    expect(third.ack.equals(first.ack)).toBe(true);
    expect([first.duplicate, again.duplicate, third.duplicate]).toEqual([false, true, true]);
    expect((await effects(h)).filter((e) => e.value === 'A08:IN-DUP-1')).toHaveLength(1);
    expect(await rows(h, 'IN-DUP-1')).toHaveLength(1);
  });

  it('answers a copy applied by another process (a restart, another instance) with the same ACK, undoing its handler’s writes', async () => {
    const payload = message('ADT^A08^ADT_A01', 'IN-DUP-OTHER-1');
    const first = await receive(h, payload);
    // A second listener process on the same database has not seen the control id: it runs the
    // message, finds the row at the end, undoes its transaction and answers from the row.
    const other = await startHl7(env, HANDLERS);
    try {
      const again = await receive(other, payload);
      expect(again.ack.equals(first.ack)).toBe(true);
      expect(again.duplicate).toBe(true);
    } finally {
      await other.close();
    }
    expect((await effects(h)).filter((e) => e.value === 'A08:IN-DUP-OTHER-1')).toHaveLength(1);
    expect(await rows(h, 'IN-DUP-OTHER-1')).toHaveLength(1);
  });

  it('refuses a different message under a control id already used (AR 205), keeping the first', async () => {
    await receive(h, message('ADT^A08^ADT_A01', 'IN-REUSE-1'));
    const other = await receive(h, message('ADT^A08^ADT_A01', 'IN-REUSE-1', 'PID|1||P-2^^^NORTHSIDE^MR||Other^Person'));
    const ack = parseAck(other.ack.toString('utf8'));
    expect({ code: ack.code, error: ack.error?.code, location: ack.error?.location }).toEqual({ code: 'AR', error: '205', location: 'MSH^1^10' });
    const [row] = await rows(h, 'IN-REUSE-1');
    expect(row).toMatchObject({ status: 'AA', attempts: 1 });
    expect((await effects(h)).filter((e) => e.value === 'A08:IN-REUSE-1')).toHaveLength(1);
  });

  it('keeps a handler’s AE with its ERR, undoing the handler’s writes; a re-sent copy gets the same AE', async () => {
    const payload = message('ADT^A02^ADT_A02', 'IN-AE-1');
    const answer = await receive(h, payload);
    const ack = parseAck(answer.ack.toString('utf8'));
    expect({ code: ack.code, error: ack.error }).toEqual({ code: 'AE', error: { code: '101', location: 'PID^1^3', text: 'PID-3 is required' } });
    expect(ack.segments.find((s) => s[0] === 'ERR')).toEqual(['ERR', '', 'PID^1^3', '101^Required field missing^HL70357', 'E', '', '', '', 'PID-3 is required']);
    expect((await effects(h)).filter((e) => e.value.endsWith('IN-AE-1'))).toEqual([]);
    expect((await rows(h, 'IN-AE-1'))[0]).toMatchObject({ status: 'AE', final: true, error_code: '101', error_location: 'PID^1^3', error_text: 'PID-3 is required', patient_ids: ['P-1'] });
    expect((await receive(h, payload)).ack.equals(answer.ack)).toBe(true);

    const ar = parseAck((await receive(h, message('ADT^A05^ADT_A05', 'IN-AR-1'))).ack.toString('utf8'));
    expect({ code: ar.code, error: ar.error?.code }).toEqual({ code: 'AR', error: '204' });
    expect((await rows(h, 'IN-AR-1'))[0]).toMatchObject({ status: 'AR', final: true });
  });

  it('answers AE 207 to an unexpected error, keeping nothing, and takes the message when sent again', async () => {
    failNext = true;
    const payload = message('ADT^A03^ADT_A03', 'IN-BUG-1');
    const answer = await receive(h, payload);
    const ack = parseAck(answer.ack.toString('utf8'));
    expect({ code: ack.code, acknowledges: ack.acknowledges, error: ack.error?.code }).toEqual({ code: 'AE', acknowledges: 'IN-BUG-1', error: '207' });
    expect(await rows(h, 'IN-BUG-1')).toEqual([]);
    expect((await effects(h)).filter((e) => e.value === 'A03:IN-BUG-1')).toEqual([]);
    expect(parseAck((await receive(h, payload)).ack.toString('utf8')).code).toBe('AA');
    expect((await effects(h)).filter((e) => e.value === 'A03:IN-BUG-1')).toHaveLength(1);
  });

  it('refuses unsupported types (200) and triggers (201), and looks at a re-sent copy again once supported', async () => {
    const type = parseAck((await receive(h, message('ORU^R01^ORU_R01', 'IN-TYPE-1'))).ack.toString('utf8'));
    expect({ code: type.code, error: type.error?.code, location: type.error?.location }).toEqual({ code: 'AR', error: '200', location: 'MSH^1^9^1^1' });
    const payload = message('ADT^A11^ADT_A09', 'IN-TRIGGER-1');
    const trigger = parseAck((await receive(h, payload)).ack.toString('utf8'));
    expect({ code: trigger.code, error: trigger.error?.code, location: trigger.error?.location }).toEqual({ code: 'AR', error: '201', location: 'MSH^1^9^1^2' });
    expect((await rows(h, 'IN-TRIGGER-1'))[0]).toMatchObject({ status: 'AR', final: false, error_code: '201', message_type: 'ADT', trigger_event: 'A11' });

    h.registry.register(['ADT^A11'], write);
    const later = parseAck((await receive(h, payload)).ack.toString('utf8'));
    expect(later.code).toBe('AA');
    expect(later.controlId).not.toBe(trigger.controlId);
    expect(await rows(h, 'IN-TRIGGER-1')).toEqual([expect.objectContaining({ status: 'AA', final: true, attempts: 2, error_code: null })]);
  });

  it('refuses a header without its required fields (101 and the location)', async () => {
    const noTime = Buffer.from(hl7('MSH|^~\\&|RIS|NORTHSIDE|VNA|ARCHIVE|||ADT^A08|IN-HDR-1|P|2.5.1', 'EVN|A08'));
    const ack = parseAck((await receive(h, noTime)).ack.toString('utf8'));
    expect({ code: ack.code, error: ack.error?.code, location: ack.error?.location }).toEqual({ code: 'AR', error: '101', location: 'MSH^1^7' });
    expect((await rows(h, 'IN-HDR-1'))[0]).toMatchObject({ status: 'AR', final: false });

    const noId = parseAck((await receive(h, sample('bad-missing-control-id.hl7'))).ack.toString('utf8'));
    expect({ code: noId.code, error: noId.error?.code, location: noId.error?.location, acknowledges: noId.acknowledges }).toEqual({ code: 'AR', error: '101', location: 'MSH^1^10', acknowledges: '' });
  });

  it('answers frames it cannot read with AR, storing nothing', async () => {
    const before = ((await h.db.query(`SELECT count(*)::int AS n FROM hl7_message`)) as { n: number }[])[0]!.n;
    for (const [name, code] of [
      ['bad-no-msh.hl7', '100'],
      ['bad-encoding-characters.hl7', '102'],
    ] as const) {
      const ack = parseAck((await receive(h, sample(name))).ack.toString('utf8'));
      expect({ name, code: ack.code, error: ack.error?.code }).toEqual({ name, code: 'AR', error: code });
    }
    const enc = parseAck((await receive(h, sample('bad-encoding-characters.hl7'))).ack.toString('utf8'));
    expect(enc.acknowledges).toBe('BAD-ENC-0001');
    const blob = parseAck((await receive(h, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) & 0xff)))).ack.toString('latin1'));
    expect(blob.code).toBe('AR');
    expect(((await h.db.query(`SELECT count(*)::int AS n FROM hl7_message`)) as { n: number }[])[0]!.n).toBe(before);
  });

  it('applies a message sent twice at once exactly once: the second waits for the first outcome', async () => {
    const payload = message('ADT^A04^ADT_A01', 'IN-RACE-1');
    const [a, b] = await Promise.all([receive(h, payload), receive(h, payload)]);
    expect(a.ack.equals(b.ack)).toBe(true);
    expect([a.duplicate, b.duplicate].sort()).toEqual([false, true]);
    expect((await effects(h)).filter((e) => e.value === 'A04:IN-RACE-1')).toHaveLength(1);
  });

  it('takes the same control id from another sender as another message', async () => {
    const a = parseAck((await receive(h, message('ADT^A08^ADT_A01', 'IN-SHARED-1'))).ack.toString('utf8'));
    // Not in VNA_HL7_ALLOWED_SENDERS: the local profile takes it with a warning.
    const b = parseAck((await receive(h, message('ADT^A08^ADT_A01', 'IN-SHARED-1', undefined, { app: 'LAB', facility: 'SOUTHSIDE' }))).ack.toString('utf8'));
    expect([a.code, b.code]).toEqual(['AA', 'AA']);
    expect(await rows(h, 'IN-SHARED-1')).toHaveLength(2);
  });

  it('keeps the raw bytes of every character set and shows them decoded in the log', async () => {
    for (const name of ['adt-a08-update-latin1.hl7', 'adt-a08-update-utf8.hl7', 'adt-a08-custom-delimiters.hl7', 'adt-a08-escapes.hl7']) {
      const raw = sample(name);
      const answer = await receive(h, raw);
      expect({ name, status: answer.status }).toEqual({ name, status: 'AA' });
    }
    const [latin] = await h.log.search({ controlId: 'ADT-A08-0002', limit: 10 });
    expect(latin).toMatchObject({ characterSet: '8859/1', patientIds: ['SS200001'], status: 'AA', bytes: sample('adt-a08-update-latin1.hl7').length });
    const detail = await h.log.get(latin!.id, 'test');
    expect(detail.raw).toContain('Gonçalves^Inês');
    expect(detail.ack).toMatch(/^MSH\|\^~\\&\|VNA\|SOUTHSIDE\|HIS\|SOUTHSIDE\|/);
    const stored = ((await h.db.query(`SELECT raw FROM hl7_message WHERE id = $1`, [latin!.id])) as { raw: Buffer }[])[0]!.raw;
    expect(stored.equals(sample('adt-a08-update-latin1.hl7'))).toBe(true);
    // The ACK goes back in the message's character set.
    const [custom] = await h.log.search({ controlId: 'ADT-A08-0004', limit: 1 });
    expect(custom!.patientIds).toEqual(['ES300001', 'ES-OLD-7']);
    expect((await h.log.get(custom!.id, 'test')).ack).toMatch(/^MSH#!@\$%#VNA#EASTSIDE#LEGACY#EASTSIDE#/);
  });

  it('searches the log by control id, type, trigger, patient, status, sender and time, with limit and offset', async () => {
    const since = new Date();
    for (let i = 0; i < 5; i++) await receive(h, message('ADT^A08^ADT_A01', `LOG-${i}`, `PID|1||LOGPAT-${i % 2}^^^NORTHSIDE^MR`));
    await receive(h, message('ADT^A02^ADT_A02', 'LOG-AE', 'PID|1||LOGPAT-1^^^NORTHSIDE^MR'));
    const ids = (list: { controlId: string }[]) => list.map((m) => m.controlId);
    expect(ids(await h.log.search({ controlId: 'LOG-3' }))).toEqual(['LOG-3']);
    expect(ids(await h.log.search({ patientId: 'LOGPAT-1' }))).toEqual(['LOG-AE', 'LOG-3', 'LOG-1']);
    expect(ids(await h.log.search({ patientId: 'LOGPAT-1', status: 'AE' }))).toEqual(['LOG-AE']);
    expect(ids(await h.log.search({ type: 'ADT^A02', since: since.toISOString() }))).toEqual(['LOG-AE']);
    expect(ids(await h.log.search({ type: 'ADT', trigger: 'A08', since: since.toISOString(), limit: 2 }))).toEqual(['LOG-4', 'LOG-3']);
    expect(ids(await h.log.search({ type: 'ADT', trigger: 'A08', since: since.toISOString(), limit: 2, offset: 2 }))).toEqual(['LOG-2', 'LOG-1']);
    expect(ids(await h.log.search({ sendingApplication: 'RIS', patientId: 'LOGPAT-0' }))).toEqual(['LOG-4', 'LOG-2', 'LOG-0']);
    expect(await h.log.search({ since: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);
    expect(await h.log.search({ until: since.toISOString(), controlId: 'LOG-0' })).toEqual([]);
    await expect(h.log.search({ limit: 5000 })).rejects.toMatchObject({ kind: 'invalid' });
    await expect(h.log.search({ type: 'ADT^A08', trigger: 'A01' })).rejects.toMatchObject({ kind: 'invalid' });
    await expect(h.log.get('999999999', 'test')).rejects.toMatchObject({ kind: 'not-found' });
    await expect(h.log.get('abc', 'test')).rejects.toMatchObject({ kind: 'not-found' });
  });
});

describe('Hl7InboundService (production profile): allowed senders', () => {
  let env: MediumEnv;
  let h: Hl7Harness;

  beforeAll(async () => {
    env = await mediumEnv('hl7prod', { NODE_ENV: 'production', VNA_HL7_PORT: '0', VNA_HL7_ALLOWED_SENDERS: 'RIS@NORTHSIDE,ADT*@EAST*' });
    h = await startHl7(env, HANDLERS);
    await h.db.query(`CREATE TABLE hl7_test_effect (seq bigserial, message_id bigint, value text)`);
  });

  afterAll(async () => {
    await h?.close();
    await env?.cleanup();
  });

  it('refuses an unknown sender with AR 207, applying nothing', async () => {
    const ack = parseAck((await receive(h, message('ADT^A08^ADT_A01', 'PROD-1', undefined, { app: 'ROGUE', facility: 'NOWHERE' }))).ack.toString('utf8'));
    expect({ code: ack.code, error: ack.error?.code, location: ack.error?.location }).toEqual({ code: 'AR', error: '207', location: 'MSH^1^3' });
    expect(ack.error?.text).toContain('ROGUE@NOWHERE');
    expect(await effects(h)).toEqual([]);
    expect((await rows(h, 'PROD-1'))[0]).toMatchObject({ status: 'AR', final: false });
  });

  it('takes allowed senders, wildcards included', async () => {
    expect(parseAck((await receive(h, message('ADT^A08^ADT_A01', 'PROD-2'))).ack.toString('utf8')).code).toBe('AA');
    expect(parseAck((await receive(h, message('ADT^A08^ADT_A01', 'PROD-3', undefined, { app: 'ADT-ENGINE', facility: 'EASTSIDE' }))).ack.toString('utf8')).code).toBe('AA');
    expect((await effects(h)).map((e) => e.value)).toEqual(['A08:PROD-2', 'A08:PROD-3']);
  });
});
