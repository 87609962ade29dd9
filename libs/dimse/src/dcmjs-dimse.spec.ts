import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import dimse from 'dcmjs-dimse';
import { Client, FileDataset, queuedSends, requests, Scp } from './dcmjs-dimse.js';

// The failure case logs an error by design.
(dimse as unknown as typeof import('dcmjs-dimse')).log.setLevel('silent');

const CT = '1.2.840.10008.5.1.4.1.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

/** A socket stand-in: takes one write per tick through a 1 KiB buffer, records every byte. */
class FakeSocket extends Writable {
  readonly chunks: Buffer[] = [];
  constructor() {
    super({ highWaterMark: 1024 });
  }
  setTimeout(): this {
    return this;
  }
  override _write(chunk: Buffer, _encoding: string, callback: (error?: Error) => void): void {
    this.chunks.push(Buffer.from(chunk));
    setImmediate(callback);
  }
}

interface NetworkUnderTest {
  timeoutIntervalId?: NodeJS.Timeout;
  _sendPDataTF(command: unknown, pcId: number, maxPdu: number): void;
  sendAssociationReleaseRequest(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  getStatistics(): { getBytesSent(): number };
}

/** The library's network class (what Scp extends and Client instantiates), on a fake socket. */
function network(socket: FakeSocket): NetworkUnderTest {
  const Network = Object.getPrototypeOf(Scp.prototype).constructor as new (socket: unknown, options: unknown) => NetworkUnderTest;
  const net = new Network(socket, {});
  clearInterval(net.timeoutIntervalId);
  return net;
}

/** [type, control header, value length] of each PDU written. */
function pdus(bytes: Buffer): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let pos = 0; pos < bytes.length; ) {
    const length = bytes.readUInt32BE(pos + 2);
    out.push(bytes[pos] === 4 ? [4, bytes[pos + 11]!, length - 6] : [bytes[pos]!, -1, length]);
    pos += 6 + length;
  }
  return out;
}

async function settled(net: object, socket: FakeSocket): Promise<void> {
  await queuedSends(net);
  while (socket.writableLength > 0) await new Promise((r) => setImmediate(r));
}

describe("dcmjs-dimse's network with a file-backed dataset", () => {
  const dir = mkdtempSync(join(tmpdir(), 'dcmjs-stream-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is the class the SCU client uses too (C-MOVE and C-GET sub-operations both go through the patch)', () => {
    const NetworkProto = Object.getPrototypeOf(Scp.prototype) as object;
    expect(Object.prototype.hasOwnProperty.call(NetworkProto, '_sendPDataTF')).toBe(true);
    // Client.send builds `new Network(socket)`; its 'network' is an instance of the same class.
    const client = new Client();
    client.addRequest(new requests.CEchoRequest());
    client.send('127.0.0.1', 1, 'A', 'B', { connectTimeout: 10 });
    const net = (client as unknown as { network: object }).network;
    client.on('networkError', () => undefined);
    expect(Object.getPrototypeOf(net)).toBe(NetworkProto);
    clearInterval((net as { timeoutIntervalId?: NodeJS.Timeout }).timeoutIntervalId);
    (net as { socket: { destroy(): void } }).socket.destroy();
  });

  it('streams the dataset after its command, and whatever is sent meanwhile waits behind it', async () => {
    const path = join(dir, 'object.bin');
    const data = Buffer.alloc(20_000, 0x5a);
    writeFileSync(path, data);
    const socket = new FakeSocket();
    const net = network(socket);
    const store = new requests.CStoreRequest(new FileDataset(CT, '1.2.3.4', EXPLICIT_LE, path));
    store.setMessageId(1);
    const echo = new requests.CEchoRequest();
    echo.setMessageId(2);
    net._sendPDataTF(store, 1, 4096);
    net._sendPDataTF(echo, 3, 4096);
    net.sendAssociationReleaseRequest();
    await settled(net, socket);
    const written = Buffer.concat(socket.chunks);
    expect(pdus(written)).toEqual([
      [4, 3, expect.any(Number)], // C-STORE-RQ command, last fragment
      [4, 0, 4090],
      [4, 0, 4090],
      [4, 0, 4090],
      [4, 0, 4090],
      [4, 2, 20_000 - 4 * 4090], // the dataset's last fragment
      [4, 3, expect.any(Number)], // then the C-ECHO-RQ
      [5, -1, 4], // then the A-RELEASE-RQ
    ]);
    expect(net.getStatistics().getBytesSent()).toBe(written.length);
  });

  it('sends a message without a file-backed dataset at once when nothing is streaming', () => {
    const socket = new FakeSocket();
    const net = network(socket);
    const echo = new requests.CEchoRequest();
    echo.setMessageId(1);
    const write = socket.write.bind(socket);
    let written = 0;
    socket.write = ((chunk: Buffer) => {
      written++;
      return write(chunk);
    }) as typeof socket.write;
    net._sendPDataTF(echo, 1, 4096);
    expect(written).toBe(1);
  });

  it('ends the association (networkError) when the file is gone, sending nothing for it nor after it', async () => {
    const socket = new FakeSocket();
    const net = network(socket);
    const errors: unknown[] = [];
    net.on('networkError', (e) => errors.push(e));
    const store = new requests.CStoreRequest(new FileDataset(CT, '1.2.3.5', EXPLICIT_LE, join(dir, 'gone.bin')));
    store.setMessageId(1);
    const echo = new requests.CEchoRequest();
    echo.setMessageId(2);
    net._sendPDataTF(store, 1, 4096);
    net._sendPDataTF(echo, 1, 4096);
    await settled(net, socket);
    expect(errors).toHaveLength(1);
    expect(String((errors[0] as Error).message)).toMatch(/ENOENT/);
    expect(socket.chunks).toHaveLength(0);
  });
});
