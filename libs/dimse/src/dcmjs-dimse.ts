import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Socket } from 'node:net';
import dimse from 'dcmjs-dimse';
import { encodeCommand } from './command-encoder.js';
import { streamFileMessage } from './pdata-stream.js';

/**
 * The one import of dcmjs-dimse (a CommonJS bundle), re-exported with the names the edge uses.
 * Its logger is turned down to warnings: at info it prints every association and command.
 */
const lib = dimse as unknown as typeof import('dcmjs-dimse');
lib.log.setLevel('warn');

export const { Scp, Client, Dataset, constants, requests, responses, association } = lib;
/**
 * The Maximum Length the archive advertises (PS3.8 D.1): dcmjs-dimse caps an A-ASSOCIATE-AC at a
 * process-wide value (256 KiB unless set) and puts it in the A-ASSOCIATE-RQs it sends.
 */
export function setMaxReceivePduLength(bytes: number): void {
  (lib.Implementation as unknown as { setMaxPduLength(n: number): void }).setMaxPduLength(bytes);
}

export type ScpInstance = InstanceType<typeof lib.Scp>;
export type DatasetInstance = InstanceType<typeof lib.Dataset>;
export type AssociationInstance = InstanceType<typeof lib.association.Association>;
export type CStoreRequestInstance = InstanceType<typeof lib.requests.CStoreRequest>;
export type CFindRequestInstance = InstanceType<typeof lib.requests.CFindRequest>;
export type CMoveRequestInstance = InstanceType<typeof lib.requests.CMoveRequest>;
export type CGetRequestInstance = InstanceType<typeof lib.requests.CGetRequest>;
export type CEchoRequestInstance = InstanceType<typeof lib.requests.CEchoRequest>;
export type RequestInstance = InstanceType<typeof lib.requests.Request>;
export type ResponseInstance = InstanceType<typeof lib.responses.Response>;

/**
 * dcmjs-dimse parses every non-C-STORE dataset (C-FIND identifiers, say) with dcmjs, which cannot
 * decode ISO 2022 character sets. Keeping the raw bytes lets the archive decode identifiers itself
 * (libs/dicom), correctly for every character set. One wrap, in one place.
 */
const proto = lib.Dataset.prototype as unknown as {
  _fromElementsBuffer: (buffer: Buffer, ts: string, options: unknown) => unknown;
};
const original = proto._fromElementsBuffer;
proto._fromElementsBuffer = function (this: { rawBytes?: Buffer }, buffer: Buffer, ts: string, options: unknown) {
  Object.defineProperty(this, 'rawBytes', { value: Buffer.from(buffer), enumerable: false });
  return original.call(this, buffer, ts, options);
};

/**
 * dcmjs-dimse keeps appending to one command buffer after a command that has no dataset (a
 * C-ECHO-RQ; every C-STORE-RSP of a C-MOVE or C-GET): each later command is then parsed from all
 * the earlier ones, so stale fields carry over (a failure's Error Comment shows on later successes)
 * and the parsing cost grows with the square of the number of sub-operations. A message is
 * complete when the library performs it: start the next one afresh.
 */
const network = Object.getPrototypeOf(lib.Scp.prototype) as {
  _performDimse: (context: unknown, dimse: unknown) => unknown;
  _sendPDataTF: (command: CommandLike, pcId: number, maxPdu: number) => void;
  _sendPdu: (pdu: { getType(): number }) => void;
};
const performDimse = network._performDimse;
network._performDimse = function (this: { dimseStream?: unknown }, context: unknown, dimse: unknown) {
  this.dimseStream = undefined;
  return performDimse.call(this, context, dimse);
};

/**
 * Every command set the library sends (each C-STORE-RSP among them) is written by the archive's own
 * encoder (command-encoder.ts, the same bytes); dcmjs stays for what it does not know.
 */
const datasetProto = lib.Dataset.prototype as unknown as {
  getElements(): Record<string, unknown>;
  getDenaturalizedCommandDataset: (...args: unknown[]) => Buffer;
};
const denaturalizeCommand = datasetProto.getDenaturalizedCommandDataset;
datasetProto.getDenaturalizedCommandDataset = function (this: typeof datasetProto, ...args: unknown[]) {
  return (args.length === 0 || args[0] === undefined ? encodeCommand(this.getElements()) : undefined) ?? denaturalizeCommand.apply(this, args);
};

export function rawBytesOf(dataset: unknown): Buffer | undefined {
  return (dataset as { rawBytes?: Buffer } | undefined)?.rawBytes;
}

/**
 * A dataset whose bytes the archive already has (a stored object, a response it encoded itself):
 * dcmjs-dimse sends them as they are instead of re-serializing (which would drop private tags and
 * rewrite character sets). `load` runs when the library sends the dataset.
 */
export class RawDataset extends lib.Dataset {
  constructor(
    sopClassUid: string,
    sopInstanceUid: string,
    transferSyntaxUid: string,
    private readonly load: () => Buffer,
  ) {
    super({ SOPClassUID: sopClassUid, SOPInstanceUID: sopInstanceUid }, transferSyntaxUid);
  }

  override getDenaturalizedDataset(): Buffer {
    return this.load();
  }
}

/**
 * A dataset in a file (a retrieve's scratch copy, egress overlay applied): the network layer below
 * streams it from the file with backpressure instead of asking for the whole buffer, so an object
 * of any size takes a few MiB of memory. `length` bytes from `offset` (to the end of the file when
 * undefined), in `transferSyntaxUid` as they are.
 */
export class FileDataset extends lib.Dataset {
  constructor(
    sopClassUid: string,
    sopInstanceUid: string,
    transferSyntaxUid: string,
    readonly path: string,
    readonly offset = 0,
    readonly length?: number,
    /**
     * Makes the file, when it is made only as it is about to go (a converted copy, say): the
     * network layer awaits it before it streams. `getDenaturalizedDataset` needs it done.
     */
    readonly prepare?: () => Promise<void>,
  ) {
    super({ SOPClassUID: sopClassUid, SOPInstanceUID: sopInstanceUid }, transferSyntaxUid);
  }

  /** The bytes in memory: only for a caller other than the network layer (which streams them). */
  override getDenaturalizedDataset(): Buffer {
    const fd = openSync(this.path, 'r');
    try {
      const length = this.length ?? Math.max(0, fstatSync(fd).size - this.offset);
      const bytes = Buffer.allocUnsafe(length);
      for (let got = 0; got < length; ) {
        const n = readSync(fd, bytes, got, length - got, this.offset + got);
        if (n === 0) throw new Error(`dataset file ended after ${got} of ${length} bytes`);
        got += n;
      }
      return bytes;
    } finally {
      closeSync(fd);
    }
  }
}

interface CommandLike {
  getDataset(): unknown;
  getCommandDataset(): { getDenaturalizedCommandDataset(): Buffer };
}

interface NetworkLike {
  socket: Socket;
  statistics: { addBytesSent(bytes: number): void };
  lastPduTime?: number;
  logId?: string;
  emit(event: string, ...args: unknown[]): boolean;
}

/** What one network (association) has queued to send, behind a dataset being streamed. */
interface SendQueue {
  tail?: Promise<void>;
  /** A queued send failed: the association is being ended, nothing more goes out. */
  failed: boolean;
  /** An A-ABORT went out: the stream stops at its next PDU. */
  aborting: boolean;
}

const A_ABORT = 0x07;
const sendQueues = new WeakMap<object, SendQueue>();

function queueOf(net: object): SendQueue {
  let queue = sendQueues.get(net);
  if (!queue) {
    queue = { failed: false, aborting: false };
    sendQueues.set(net, queue);
  }
  return queue;
}

/** Runs `job` after everything queued on the network; a failure ends the association through the library's networkError path. */
function enqueue(net: NetworkLike, queue: SendQueue, job: () => Promise<void> | void): void {
  const run = async (): Promise<void> => {
    if (queue.failed) return;
    try {
      await job();
    } catch (e) {
      queue.failed = true;
      const error = e instanceof Error ? e : new Error(String(e));
      lib.log.error(`${net.logId ?? ''} -> Error sending DIMSE: ${error.message}`);
      // A closed socket already took the library's close path; an abort was reported by whoever sent it.
      if (!queue.aborting && !net.socket.destroyed) net.emit('networkError', error);
    }
  };
  const tail = (queue.tail ?? Promise.resolve()).then(run);
  queue.tail = tail;
  void tail.then(() => {
    if (queue.tail === tail) queue.tail = undefined;
  });
}

/** Resolves when everything queued on a network (an Scp, a Client's network) has been handed to its socket or dropped. */
export async function queuedSends(net: object): Promise<void> {
  for (let tail = sendQueues.get(net)?.tail; tail; tail = sendQueues.get(net)?.tail) await tail;
}

/**
 * dcmjs-dimse's `_sendPDataTF` asks a dataset for all its bytes and writes every PDU at once,
 * without backpressure: a 1 GB object took 1 GB (and the socket's copy). A FileDataset is streamed
 * from its file instead (pdata-stream.ts), and everything the network sends meanwhile (a C-GET's
 * pending responses, the next request, a release) queues behind it, so PDUs never interleave.
 * Other messages go at once when nothing is streaming, as before. An A-ABORT does not wait: it goes
 * between two whole PDUs and stops the stream.
 */
const sendPDataTF = network._sendPDataTF;
network._sendPDataTF = function (this: NetworkLike, command: CommandLike, pcId: number, maxPdu: number) {
  const queue = queueOf(this);
  const dataset = command.getDataset();
  if (!queue.tail && !queue.failed && !(dataset instanceof FileDataset)) return sendPDataTF.call(this, command, pcId, maxPdu);
  enqueue(this, queue, async () => {
    if (!(dataset instanceof FileDataset)) return sendPDataTF.call(this, command, pcId, maxPdu);
    await dataset.prepare?.();
    const commandBytes = command.getCommandDataset().getDenaturalizedCommandDataset();
    return streamFileMessage(this.socket, pcId, commandBytes, dataset, maxPdu, {
      sent: (bytes) => this.statistics.addBytesSent(bytes),
      // The library's PDU timeout counts received PDUs only; a dataset still going out is not idle.
      progressed: () => {
        if (this.lastPduTime !== undefined) this.lastPduTime = Date.now();
      },
      stopped: () => queue.aborting,
    });
  });
};

const sendPdu = network._sendPdu;
network._sendPdu = function (this: NetworkLike, pdu: { getType(): number }) {
  const queue = sendQueues.get(this);
  if (!queue?.tail) return sendPdu.call(this, pdu);
  if (pdu.getType() === A_ABORT) {
    queue.aborting = true;
    return sendPdu.call(this, pdu);
  }
  enqueue(this, queue, () => sendPdu.call(this, pdu));
};
