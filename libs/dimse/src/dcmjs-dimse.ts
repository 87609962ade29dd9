import dimse from 'dcmjs-dimse';
import { encodeCommand } from './command-encoder.js';

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
