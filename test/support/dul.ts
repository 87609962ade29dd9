import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeDataset, IMPLICIT_LE } from '#vna/dicom';

/**
 * A DICOM upper layer peer written by hand (PS3.8 9.3), for tests that must send what no
 * well-behaved library would: oversized or half-sent PDUs, silence, data cut off mid-object.
 */

export const APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';
export const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
export const VERIFICATION = '1.2.840.10008.1.1';

function item(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt8(type, 0);
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

function uid(value: string): Buffer {
  return Buffer.from(value, 'latin1');
}

export function pduHeader(type: number, length: number): Buffer {
  const header = Buffer.alloc(6);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(length, 2);
  return header;
}

function pdu(type: number, body: Buffer): Buffer {
  return Buffer.concat([pduHeader(type, body.length), body]);
}

export interface ProposedContext {
  readonly id: number;
  readonly abstractSyntax: string;
  readonly transferSyntaxes?: readonly string[];
}

/** A-ASSOCIATE-RQ (PS3.8 9.3.2). */
/** SCP/SCU Role Selection (PS3.7 D.3.3.4): a C-GET requester proposes to be the SCP of the storage classes it takes. */
export interface RoleSelection {
  readonly sopClassUid: string;
  readonly scu: boolean;
  readonly scp: boolean;
}

export function associateRq(
  options: { called?: string; calling?: string; contexts?: readonly ProposedContext[]; maxPdu?: number; roles?: readonly RoleSelection[] } = {},
): Buffer {
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(1, 0); // protocol version
  fixed.write((options.called ?? 'VNA').padEnd(16, ' '), 4, 'latin1');
  fixed.write((options.calling ?? 'RAWSCU').padEnd(16, ' '), 20, 'latin1');
  const contexts = (options.contexts ?? [{ id: 1, abstractSyntax: VERIFICATION }]).map((c) =>
    item(
      0x20,
      Buffer.concat([
        Buffer.from([c.id, 0, 0, 0]),
        item(0x30, uid(c.abstractSyntax)),
        ...(c.transferSyntaxes ?? [IMPLICIT_VR_LITTLE_ENDIAN]).map((ts) => item(0x40, uid(ts))),
      ]),
    ),
  );
  const maxLength = Buffer.alloc(4);
  maxLength.writeUInt32BE(options.maxPdu ?? 16384, 0);
  const roles = (options.roles ?? []).map((r) => {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(r.sopClassUid.length, 0);
    return item(0x54, Buffer.concat([length, uid(r.sopClassUid), Buffer.from([r.scu ? 1 : 0, r.scp ? 1 : 0])]));
  });
  const userInfo = item(0x50, Buffer.concat([item(0x51, maxLength), item(0x52, uid('1.2.826.0.1.3680043.10.1434.99')), ...roles]));
  return pdu(0x01, Buffer.concat([fixed, item(0x10, uid(APPLICATION_CONTEXT)), ...contexts, userInfo]));
}

/** P-DATA-TF with one PDV (PS3.8 9.3.5, E.2). */
export function pDataTf(contextId: number, value: Buffer, kind: { command: boolean; last: boolean }): Buffer {
  const pdv = Buffer.alloc(6);
  pdv.writeUInt32BE(value.length + 2, 0);
  pdv.writeUInt8(contextId, 4);
  pdv.writeUInt8((kind.command ? 1 : 0) | (kind.last ? 2 : 0), 5);
  return pdu(0x04, Buffer.concat([pdv, value]));
}

/** A command set (PS3.7 E.1), implicit VR little endian with its group length. */
function commandSet(elements: Parameters<typeof encodeDataset>[0]): Buffer {
  const body = encodeDataset(elements, IMPLICIT_LE);
  const groupLength = encodeDataset([{ tag: 0x00000000, vr: 'UL', value: [body.length] }], IMPLICIT_LE);
  return Buffer.concat([groupLength, body]);
}

/** C-STORE-RQ (PS3.7 9.3.1.1), a dataset following. */
export function cStoreCommand(sopClassUid: string, sopInstanceUid: string, messageId = 1): Buffer {
  return commandSet([
    { tag: 0x00000002, vr: 'UI', value: [sopClassUid] },
    { tag: 0x00000100, vr: 'US', value: [0x0001] },
    { tag: 0x00000110, vr: 'US', value: [messageId] },
    { tag: 0x00000700, vr: 'US', value: [0] },
    { tag: 0x00000800, vr: 'US', value: [0x0000] },
    { tag: 0x00001000, vr: 'UI', value: [sopInstanceUid] },
  ]);
}

/** C-GET-RQ (PS3.7 9.3.3.1), an identifier following. */
export function cGetCommand(sopClassUid: string, messageId = 1): Buffer {
  return commandSet([
    { tag: 0x00000002, vr: 'UI', value: [sopClassUid] },
    { tag: 0x00000100, vr: 'US', value: [0x0010] },
    { tag: 0x00000110, vr: 'US', value: [messageId] },
    { tag: 0x00000700, vr: 'US', value: [0] },
    { tag: 0x00000800, vr: 'US', value: [0x0000] },
  ]);
}

export interface ReceivedPdu {
  readonly type: number;
  readonly body: Buffer;
}

/** A raw TCP connection to the archive's DICOM port that records what comes back and when it closes. */
export class RawPeer {
  private received = Buffer.alloc(0);
  readonly closed: Promise<void>;
  private isClosed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => (this.received = Buffer.concat([this.received, chunk])));
    socket.on('error', () => undefined); // a reset is an expected ending here
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  static open(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(new RawPeer(socket)));
      socket.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** Whole PDUs received so far. */
  pdus(): ReceivedPdu[] {
    const out: ReceivedPdu[] = [];
    let pos = 0;
    while (pos + 6 <= this.received.length) {
      const length = this.received.readUInt32BE(pos + 2);
      if (pos + 6 + length > this.received.length) break;
      out.push({ type: this.received.readUInt8(pos), body: this.received.subarray(pos + 6, pos + 6 + length) });
      pos += 6 + length;
    }
    return out;
  }

  /** Writes, resolving once the bytes are handed to the kernel (false when the connection is gone). */
  send(bytes: Buffer): Promise<boolean> {
    if (this.isClosed || this.socket.destroyed) return Promise.resolve(false);
    return new Promise((resolve) => this.socket.write(bytes, (error) => resolve(!error)));
  }

  /** Waits until a PDU of this type has arrived (or the connection closed, or the time is up). */
  async waitForPdu(type: number, timeoutMs = 5000): Promise<ReceivedPdu | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.pdus().find((p) => p.type === type);
      if (found || this.isClosed || Date.now() > deadline) return found;
      await sleep(20);
    }
  }

  /** Resolves with the milliseconds until the archive closed the connection, or undefined if it did not within `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<number | undefined> {
    const started = Date.now();
    const result = await Promise.race([this.closed.then(() => Date.now() - started), sleep(timeoutMs).then(() => undefined)]);
    return result;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
