import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { RunningArchive } from '../support/archive-process.js';
import { frame, hl7, MllpClient, parseAck } from '../support/mllp.js';

/**
 * The HL7 listener of the running archive over a real MLLP socket (integration-specs/hl7/README.md):
 * acknowledgements, bad input (each gets AE/AR with ERR or a closed frame, nothing applied, the
 * connection and the listener still usable), re-sent messages, the message log API.
 */

const sample = (name: string): Buffer => readFileSync(join(process.cwd(), 'integration-specs/hl7/samples', name));

function message(type: string, controlId: string, opts: { app?: string; facility?: string; pid?: string } = {}): string {
  return hl7(
    `MSH|^~\\&|${opts.app ?? 'RIS'}|${opts.facility ?? 'NORTHSIDE'}|VNA|ARCHIVE|20241115083000||${type}|${controlId}|P|2.5.1|||AL|NE||UNICODE UTF-8`,
    `EVN|${type.split('^')[1]}|20241115083000`,
    opts.pid ?? `PID|1||E2E-${controlId}^^^NORTHSIDE^MR||Testperson^Anna||19800214|F`,
  );
}

/** Every HTTP error is application/problem+json naming its status. */
async function expectProblem(res: Response, status: number): Promise<void> {
  expect({ status: res.status, type: res.headers.get('content-type') }).toEqual({ status, type: expect.stringMatching(/^application\/problem\+json/) });
  expect(await res.json()).toMatchObject({ status, detail: expect.any(String) });
}

describe('HL7 listener (MLLP) of the running archive', () => {
  let archive: RunningArchive;
  let db: pg.Client;
  const clients: MllpClient[] = [];
  const connect = async (): Promise<MllpClient> => {
    const c = await MllpClient.connect(archive.hl7Port);
    clients.push(c);
    return c;
  };
  const count = async (): Promise<number> => Number((await db.query(`SELECT count(*) AS n FROM hl7_message`)).rows[0].n);
  const rowsOf = async (controlId: string) => (await db.query(`SELECT * FROM hl7_message WHERE control_id = $1`, [controlId])).rows;

  beforeAll(async () => {
    archive = await RunningArchive.start({ label: 'hl7', env: { VNA_HL7_MAX_MESSAGE_BYTES: String(1024 * 1024), VNA_HL7_FRAME_TIMEOUT_SECONDS: '2' } });
    db = new pg.Client({ connectionString: archive.databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await db?.end();
    await archive?.destroy();
  });

  it('acknowledges in original mode: sender and receiver swapped, its own control id, MSA-2 the message’s MSH-10', async () => {
    const c = await connect();
    const ack = await c.request(sample('adt-a01-admit.hl7'));
    const [msh] = ack.segments;
    expect(msh!.slice(0, 6)).toEqual(['MSH', '^~\\&', 'VNA', 'NORTHSIDE', 'RIS', 'NORTHSIDE']);
    expect(ack.type).toBe('ACK^A01^ACK');
    expect(ack.acknowledges).toBe('ADT-A01-0001');
    expect(ack.controlId).not.toBe('ADT-A01-0001');
    expect(ack.controlId.length).toBeGreaterThan(0);
    expect(['AA', 'AE', 'AR']).toContain(ack.code);
    if (ack.code !== 'AA') expect(ack.error).toMatchObject({ code: expect.stringMatching(/^\d{3}$/), text: expect.any(String) });
  });

  describe('bad input: AE/AR with ERR or a closed frame, nothing applied, connection and listener usable', () => {
    /** A message that must still be taken after the bad input, on the same connection. */
    async function stillUsable(c: MllpClient, controlId: string): Promise<void> {
      const ack = await c.request(message('ADT^A08^ADT_A01', controlId));
      expect([ack.acknowledges, ack.code === 'AA' || ack.error !== undefined]).toEqual([controlId, true]);
    }

    it('no MSH: AR 100', async () => {
      const c = await connect();
      const before = await count();
      const ack = await c.request(sample('bad-no-msh.hl7'));
      expect([ack.code, ack.error?.code, ack.error?.location]).toEqual(['AR', '100', 'MSH']);
      expect(await count()).toBe(before);
      await stillUsable(c, 'BAD-AFTER-1');
    });

    it('wrong encoding characters: AR 102 at MSH-2, addressed to the message', async () => {
      const c = await connect();
      const before = await count();
      const ack = await c.request(sample('bad-encoding-characters.hl7'));
      expect([ack.code, ack.error?.code, ack.error?.location, ack.acknowledges]).toEqual(['AR', '102', 'MSH^1^2', 'BAD-ENC-0001']);
      expect(await count()).toBe(before);
      await stillUsable(c, 'BAD-AFTER-2');
    });

    it('unknown trigger event: AR 200/201 at MSH-9, kept in the log, nothing applied', async () => {
      const c = await connect();
      const ack = await c.request(sample('bad-unknown-trigger.hl7'));
      expect(ack.code).toBe('AR');
      // 201 once ADT handlers are registered (the type is known, the trigger is not), 200 before.
      expect(['200', '201']).toContain(ack.error?.code);
      expect(ack.error?.location).toMatch(/^MSH\^1\^9\^1\^[12]$/);
      expect(await rowsOf('BAD-TRG-0001')).toEqual([expect.objectContaining({ status: 'AR', final: false, trigger_event: 'Z99' })]);
      await stillUsable(c, 'BAD-AFTER-3');
    });

    it('missing MSH-10: AR 101 at MSH-10', async () => {
      const c = await connect();
      const ack = await c.request(sample('bad-missing-control-id.hl7'));
      expect([ack.code, ack.error?.code, ack.error?.location]).toEqual(['AR', '101', 'MSH^1^10']);
      await stillUsable(c, 'BAD-AFTER-4');
    });

    it('a frame cut in half: no answer, nothing stored; the next frame is answered', async () => {
      const c = await connect();
      const half = frame(message('ADT^A08^ADT_A01', 'BAD-HALF-1'));
      await c.sendRaw(half.subarray(0, Math.floor(half.length / 2)));
      expect(await c.silentFor(300)).toBe(true);
      await stillUsable(c, 'BAD-AFTER-5');
      expect(await rowsOf('BAD-HALF-1')).toEqual([]);
      // Cut in half and then left alone: dropped after VNA_HL7_FRAME_TIMEOUT_SECONDS, still open.
      await c.sendRaw(half.subarray(0, half.length - 5));
      expect(await c.silentFor(2500)).toBe(true);
      await stillUsable(c, 'BAD-AFTER-6');
      expect(await rowsOf('BAD-HALF-1')).toEqual([]);
    });

    it('a 10 MB message: AR, that connection closed, nothing stored; others unaffected', async () => {
      const bystander = await connect();
      const c = await connect();
      const before = await count();
      const big = message('ADT^A08^ADT_A01', 'BAD-BIG-1', { pid: `PID|1||BIG^^^NORTHSIDE^MR\rNTE|1||${'A'.repeat(10 * 1024 * 1024)}` });
      c.send(big);
      const ack = await c.nextAck();
      expect([ack.code, ack.acknowledges, ack.error?.code]).toEqual(['AR', 'BAD-BIG-1', '207']);
      await c.whenClosed();
      expect(await count()).toBe(before);
      await stillUsable(bystander, 'BAD-AFTER-7');
      await stillUsable(await connect(), 'BAD-AFTER-8');
    });

    it('a binary blob: discarded outside a frame, AR inside one; the connection stays usable', async () => {
      const c = await connect();
      const before = await count();
      const blob = Buffer.from(Array.from({ length: 256 * 1024 }, (_, i) => (i * 2654435761) >>> 24).map((b) => (b === 0x0b || b === 0x1c ? 0 : b)));
      await c.sendRaw(blob);
      expect(await c.silentFor(300)).toBe(true);
      const inFrame = await c.request(blob);
      expect([inFrame.code, inFrame.error?.code]).toEqual(['AR', '100']);
      expect(await count()).toBe(before);
      await stillUsable(c, 'BAD-AFTER-9');
    });
  });

  it('answers a re-sent message from its log entry: stored once, applied once', async () => {
    const c = await connect();
    const payload = message('ADT^A08^ADT_A01', 'RESEND-1');
    const first = await c.request(payload);
    const second = await c.request(payload);
    const other = await connect();
    const third = await other.request(payload);
    const rows = await rowsOf('RESEND-1');
    expect(rows).toHaveLength(1);
    if (rows[0].final) {
      // A handler took it (AA or its AE/AR): the outcome is final, every copy gets the same ACK.
      expect(second.text).toBe(first.text);
      expect(third.text).toBe(first.text);
      expect(rows[0].attempts).toBe(1);
    } else {
      // No handler for ADT^A08 in this build yet: refused before any handler, so each copy is
      // looked at again (the same refusal, a new ACK control id) and the one row counts attempts.
      expect([second.code, second.error?.code, third.code]).toEqual([first.code, first.error?.code, first.code]);
      expect(rows[0].attempts).toBe(3);
    }
  });

  it('keeps the received bytes of a Latin-1 message and answers in its character set', async () => {
    const c = await connect();
    const raw = sample('adt-a08-update-latin1.hl7');
    const ack = parseAck((await (c.send(raw), c.nextFrame())).toString('latin1'));
    expect(ack.acknowledges).toBe('ADT-A08-0002');
    expect(ack.segments[0]![17]).toBe('8859/1');
    const [row] = await rowsOf('ADT-A08-0002');
    expect((row.raw as Buffer).equals(raw)).toBe(true);
    const found = (await (await archive.fetch('/api/v1/hl7/messages?controlId=ADT-A08-0002', { key: 'reader' })).json()) as { id: string }[];
    const detail = (await (await archive.fetch(`/api/v1/hl7/messages/${found[0]!.id}`)).json()) as { raw: string; ack: string; characterSet: string };
    expect(detail.raw).toContain('Gonçalves^Inês');
    expect(detail.characterSet).toBe('8859/1');
    expect(detail.ack).toBe(ack.text);
  });

  it('finds messages in the log by control id, type, trigger, patient and status; the raw text is for admins', async () => {
    const c = await connect();
    const ack = await c.request(message('ADT^A31^ADT_A05', 'LOG-E2E-1', { pid: 'PID|1||E2E-LOGPAT^^^NORTHSIDE^MR||Testperson^Anna' }));
    const search = async (query: string, key: 'reader' | 'admin' = 'reader') => {
      const res = await archive.fetch(`/api/v1/hl7/messages?${query}`, { key });
      expect(res.status).toBe(200);
      return (await res.json()) as { id: string; controlId: string; messageType: string; triggerEvent: string; status: string; patientIds: string[]; ackControlId: string }[];
    };
    const [byId] = await search('controlId=LOG-E2E-1');
    expect(byId).toMatchObject({ controlId: 'LOG-E2E-1', messageType: 'ADT', triggerEvent: 'A31', status: ack.code, patientIds: ['E2E-LOGPAT'], ackControlId: ack.controlId });
    expect(byId).not.toHaveProperty('raw');
    expect((await search('patientId=E2E-LOGPAT')).map((m) => m.controlId)).toEqual(['LOG-E2E-1']);
    expect((await search(`type=${encodeURIComponent('ADT^A31')}`)).map((m) => m.controlId)).toContain('LOG-E2E-1');
    expect((await search(`type=ADT&trigger=A31&status=${ack.code}&since=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}`)).map((m) => m.controlId)).toContain('LOG-E2E-1');
    expect(await search(`controlId=LOG-E2E-1&status=${ack.code === 'AR' ? 'AE' : 'AR'}`)).toEqual([]);
    expect((await search('limit=1')).length).toBe(1);

    await expectProblem(await archive.fetch(`/api/v1/hl7/messages/${byId!.id}`, { key: 'reader' }), 403);
    const detail = await archive.fetch(`/api/v1/hl7/messages/${byId!.id}`);
    expect(detail.status).toBe(200);
    expect(await detail.json()).toMatchObject({ controlId: 'LOG-E2E-1', raw: expect.stringContaining('PID|1||E2E-LOGPAT'), ack: ack.text });
    await expectProblem(await archive.fetch('/api/v1/hl7/messages/999999999'), 404);
    await expectProblem(await archive.fetch('/api/v1/hl7/messages?limit=5000', { key: 'reader' }), 400);
    await expectProblem(await archive.fetch('/api/v1/hl7/messages?status=XX', { key: 'reader' }), 400);
    await expectProblem(await archive.fetch('/api/v1/hl7/messages', { key: null }), 401);
  });

  it('reports HL7 figures in /metrics', async () => {
    const text = await (await archive.fetch('/metrics', { key: null })).text();
    expect(text).toContain('# TYPE vna_hl7_messages_total counter');
    expect(text).toContain('# TYPE vna_hl7_ack_duration_seconds histogram');
    expect(text).toMatch(/vna_hl7_messages_total\{type="[^"]+",status="AR"\} [1-9]/);
    expect(text).toMatch(/vna_hl7_discarded_total\{reason="oversized"\} 1/);
  });
});

describe('HL7 listener in the production profile: allowed senders', () => {
  let archive: RunningArchive;

  beforeAll(async () => {
    archive = await RunningArchive.start({ label: 'hl7prod', env: { NODE_ENV: 'production', VNA_HL7_ALLOWED_SENDERS: 'RIS@NORTHSIDE' } });
  });

  afterAll(async () => {
    await archive?.destroy();
  });

  it('refuses an unknown sender with AR 207 and takes a known one past the sender check', async () => {
    const c = await MllpClient.connect(archive.hl7Port);
    const rogue = await c.request(message('ADT^A08^ADT_A01', 'PROD-E2E-1', { app: 'ROGUE', facility: 'ELSEWHERE' }));
    expect([rogue.code, rogue.error?.code, rogue.error?.location]).toEqual(['AR', '207', 'MSH^1^3']);
    expect(rogue.error?.text).toContain('ROGUE@ELSEWHERE');
    const known = await c.request(message('ADT^A08^ADT_A01', 'PROD-E2E-2'));
    expect(known.acknowledges).toBe('PROD-E2E-2');
    expect(known.error?.code).not.toBe('207');
    await c.close();
  });
});
