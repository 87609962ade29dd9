import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Hl7Harness, startHl7 } from '../../../test/support/hl7.js';
import { type MediumEnv, mediumEnv } from '../../../test/support/medium.js';
import { frame, hl7, MllpClient } from '../../../test/support/mllp.js';
import { type Hl7Handler, Hl7ProcessingError } from './hl7-handler.js';

/**
 * The MLLP listener over real sockets: order on a kept-open connection, framing errors, the size
 * limit, a frame that stops arriving, TLS. Handlers are fakes that record what they were given.
 */

const applied: string[] = [];

const record =
  (delayMs = 0): Hl7Handler =>
  async (m, { tx, messageId }) => {
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    await tx.query(`INSERT INTO hl7_test_effect (message_id, value) VALUES ($1, $2)`, [messageId, m.controlId]);
    applied.push(m.controlId);
  };

const HANDLERS: Record<string, Hl7Handler> = {
  'ADT^A08': record(),
  // Slow: a message after it on the same connection must still wait its turn.
  'ADT^A04': record(150),
  'ADT^A02': async () => {
    throw new Hl7ProcessingError('AE', '101', 'PID-3 is required', 'PID^1^3');
  },
};

function message(type: string, controlId: string, body = 'PID|1||P-1^^^NORTHSIDE^MR||Testperson^Anna'): string {
  return hl7(`MSH|^~\\&|RIS|NORTHSIDE|VNA|ARCHIVE|20241115083000||${type}|${controlId}|P|2.5.1`, `EVN|${type.split('^')[1]}`, body);
}

async function stored(h: Hl7Harness, controlId: string): Promise<number> {
  return ((await h.db.query(`SELECT count(*)::int AS n FROM hl7_message WHERE control_id = $1`, [controlId])) as { n: number }[])[0]!.n;
}

describe('MllpServer', () => {
  let env: MediumEnv;
  let h: Hl7Harness;
  const clients: MllpClient[] = [];
  const client = async (): Promise<MllpClient> => {
    const c = await MllpClient.connect(h.server.port);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    env = await mediumEnv('mllp', { VNA_HL7_PORT: '0', VNA_HL7_MAX_MESSAGE_BYTES: '65536', VNA_HL7_FRAME_TIMEOUT_SECONDS: '1' });
    h = await startHl7(env, HANDLERS);
    await h.db.query(`CREATE TABLE hl7_test_effect (seq bigserial, message_id bigint, value text)`);
  });

  afterAll(async () => {
    for (const c of clients) await c.close();
    await h?.close();
    await env?.cleanup();
  });

  it('answers messages on one connection strictly in order, even when sent without waiting', async () => {
    const c = await client();
    const ids = ['ORD-1', 'ORD-2', 'ORD-3', 'ORD-4', 'ORD-5', 'ORD-6'];
    // All in one write: the slow ones first, so that any parallelism would reorder them.
    await c.sendRaw(Buffer.concat(ids.map((id, i) => frame(message(i < 2 ? 'ADT^A04^ADT_A01' : 'ADT^A08^ADT_A01', id)))));
    const acks = [];
    for (let i = 0; i < ids.length; i++) acks.push(await c.nextAck());
    expect(acks.map((a) => [a.code, a.acknowledges])).toEqual(ids.map((id) => ['AA', id]));
    expect(applied.filter((id) => id.startsWith('ORD-'))).toEqual(ids);
    const effects = (await h.db.query(`SELECT value FROM hl7_test_effect WHERE value LIKE 'ORD-%' ORDER BY seq`)) as { value: string }[];
    expect(effects.map((e) => e.value)).toEqual(ids);
  });

  it('keeps going after a message that fails: the next one on the connection is applied', async () => {
    const c = await client();
    const ae = await c.request(message('ADT^A02^ADT_A02', 'NEXT-1'));
    expect([ae.code, ae.error?.code, ae.error?.location]).toEqual(['AE', '101', 'PID^1^3']);
    const unknown = await c.request(message('ADT^A99^ADT_A01', 'NEXT-2'));
    expect([unknown.code, unknown.error?.code]).toEqual(['AR', '201']);
    const garbage = await c.request(Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x7f]));
    expect(garbage.code).toBe('AR');
    expect((await c.request(message('ADT^A08^ADT_A01', 'NEXT-3'))).code).toBe('AA');
  });

  it('discards bytes outside frames and frames cut in half, answering the next whole frame', async () => {
    const c = await client();
    const blob = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 31 + 7) & 0xff).filter((b) => b !== 0x0b));
    await c.sendRaw(blob);
    await c.sendRaw(Buffer.from('junk before the frame\r\n'));
    expect((await c.request(message('ADT^A08^ADT_A01', 'FRAMING-1'))).acknowledges).toBe('FRAMING-1');
    // Cut in half (no FS), then a whole frame: only the whole one is answered.
    const half = frame(message('ADT^A08^ADT_A01', 'FRAMING-HALF'));
    await c.sendRaw(half.subarray(0, 40));
    expect(await c.silentFor(200)).toBe(true);
    const next = await c.request(message('ADT^A08^ADT_A01', 'FRAMING-2'));
    expect([next.code, next.acknowledges]).toEqual(['AA', 'FRAMING-2']);
    expect(await c.silentFor(200)).toBe(true);
    expect(await stored(h, 'FRAMING-HALF')).toBe(0);
    expect(c.closed).toBe(false);
  });

  it('drops a frame that stops arriving (VNA_HL7_FRAME_TIMEOUT_SECONDS) and stays open for the next', async () => {
    const c = await client();
    const half = frame(message('ADT^A08^ADT_A01', 'SLOW-HALF'));
    await c.sendRaw(half.subarray(0, half.length - 10));
    expect(await c.silentFor(1500)).toBe(true);
    // The rest arrives too late: outside any frame now, and discarded.
    await c.sendRaw(half.subarray(half.length - 10));
    const next = await c.request(message('ADT^A08^ADT_A01', 'SLOW-NEXT'));
    expect([next.code, next.acknowledges]).toEqual(['AA', 'SLOW-NEXT']);
    expect(await stored(h, 'SLOW-HALF')).toBe(0);
  });

  it('answers a frame over VNA_HL7_MAX_MESSAGE_BYTES with AR and closes that connection only', async () => {
    const other = await client();
    const c = await client();
    const big = message('ADT^A08^ADT_A01', 'BIG-1', `NTE|1||${'x'.repeat(200_000)}`);
    c.send(big);
    const ack = await c.nextAck();
    expect([ack.code, ack.acknowledges, ack.error?.code]).toEqual(['AR', 'BIG-1', '207']);
    expect(ack.error?.text).toContain('65536');
    await c.whenClosed();
    expect(await stored(h, 'BIG-1')).toBe(0);
    expect((await other.request(message('ADT^A08^ADT_A01', 'BIG-AFTER'))).code).toBe('AA');
    const fresh = await client();
    expect((await fresh.request(message('ADT^A08^ADT_A01', 'BIG-AFTER-2'))).code).toBe('AA');
  });

  it('commits a message whose sender left before the ACK; sent again, it gets the same ACK', async () => {
    const c = await client();
    c.send(message('ADT^A04^ADT_A01', 'LEFT-1'));
    await new Promise((r) => setTimeout(r, 20));
    await c.close();
    const again = await client();
    const first = await again.request(message('ADT^A04^ADT_A01', 'LEFT-1'));
    expect(first.code).toBe('AA');
    const second = await again.request(message('ADT^A04^ADT_A01', 'LEFT-1'));
    expect(second.text).toBe(first.text);
    expect(await stored(h, 'LEFT-1')).toBe(1);
    // Its effects are committed once (a copy still in flight when the re-send came may have run the
    // handler in a transaction that was undone: the effects table, not the handler's calls, counts).
    const effects = (await h.db.query(`SELECT count(*)::int AS n FROM hl7_test_effect WHERE value = 'LEFT-1'`)) as { n: number }[];
    expect(effects[0]!.n).toBe(1);
  });

  it('counts messages, ACK latency and connections in /metrics', async () => {
    const text = await h.metrics.registry.metrics();
    expect(text).toMatch(/vna_hl7_messages_total\{type="ADT\^A08",status="AA"\} \d+/);
    expect(text).toMatch(/vna_hl7_messages_total\{type="other",status="AR"\} \d+/);
    expect(text).toMatch(/vna_hl7_ack_duration_seconds_count\{status="AA"\} \d+/);
    expect(text).toMatch(/vna_hl7_discarded_total\{reason="unterminated"\} \d+/);
    expect(text).toMatch(/vna_hl7_discarded_total\{reason="oversized"\} 1/);
    expect(text).toMatch(/vna_hl7_duplicates_total [1-9]/);
    expect(text).toContain('vna_hl7_connections');
  });
});

describe('MllpServer over TLS', () => {
  let env: MediumEnv;
  let h: Hl7Harness;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vna-hl7-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    env = await mediumEnv('mllptls', { VNA_HL7_PORT: '0', VNA_HL7_TLS_CERT: join(dir, 'cert.pem'), VNA_HL7_TLS_KEY: join(dir, 'key.pem') });
    h = await startHl7(env, HANDLERS);
    await h.db.query(`CREATE TABLE hl7_test_effect (seq bigserial, message_id bigint, value text)`);
  });

  afterAll(async () => {
    await h?.close();
    await env?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes messages over TLS and nothing in the clear', async () => {
    const c = await MllpClient.connect(h.server.port, { tls: { ca: readFileSync(join(dir, 'cert.pem')), servername: 'localhost' } });
    expect((await c.request(message('ADT^A08^ADT_A01', 'TLS-1'))).code).toBe('AA');
    expect((await c.request(message('ADT^A08^ADT_A01', 'TLS-2'))).code).toBe('AA');
    await c.close();
    const plain = await MllpClient.connect(h.server.port);
    plain.send(message('ADT^A08^ADT_A01', 'PLAIN-1'));
    await expect(plain.nextAck(3000)).rejects.toThrow();
    await plain.close();
    expect(await stored(h, 'PLAIN-1')).toBe(0);
  });
});
