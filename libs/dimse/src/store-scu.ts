import { mkdir, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { InstanceRow, RetrieveService } from '#vna/archive';
import { isUncompressedLittleEndian, transcodeLittleEndianFile, TS } from '#vna/dicom';
import { association, Client, type CStoreRequestInstance, FileDataset, requests, type ResponseInstance } from './dcmjs-dimse.js';
import { DimseStatus } from './dimse-status.js';

export interface SubOperationTally {
  completed: number;
  failed: number;
  warning: number;
  failedUids: string[];
  /** Why sub-operations failed, when the archive knows (objects rehydrating from the Archive tier): the final response's Error Comment. */
  note?: string;
}

export function emptyTally(): SubOperationTally {
  return { completed: 0, failed: 0, warning: 0, failedUids: [] };
}

export function countResponse(tally: SubOperationTally, uid: string, status: number | undefined): void {
  if (status === DimseStatus.Success) tally.completed++;
  else if (status !== undefined && (status & 0xf000) === 0xb000) tally.warning++;
  else {
    tally.failed++;
    tally.failedUids.push(uid);
  }
}

/**
 * The objects of a retrieve, written out (egress overlay applied) to a scratch directory, from which
 * each C-STORE sub-operation streams its dataset (FileDataset: a few MiB in memory whatever the
 * object's size). The scratch files go when the retrieve ends.
 */
export class MaterializedObjects {
  private constructor(
    readonly dir: string,
    readonly files: Map<string, string>,
  ) {}

  static async create(scratchRoot: string, instances: readonly InstanceRow[], retrieve: RetrieveService, destination: string, failed: (i: InstanceRow, error: unknown) => void): Promise<MaterializedObjects> {
    const dir = join(scratchRoot, `retrieve-${randomUUID()}`);
    await mkdir(dir, { recursive: true });
    const files = new Map<string, string>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < instances.length) {
        const instance = instances[next++]!;
        const path = join(dir, `${instance.id}.bin`);
        try {
          await pipeline(await retrieve.openDataset(instance, destination), createWriteStream(path));
          files.set(instance.id, path);
        } catch (e) {
          failed(instance, e);
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    return new MaterializedObjects(dir, files);
  }

  /**
   * The C-STORE request for an object, in its stored transfer syntax or, for uncompressed little
   * endian data, in the other one (`sendAs`): headers rewritten, values untouched.
   *
   * Either way the dataset streams from a scratch file: converted, from a second scratch file that
   * the streaming transcoder writes just before the object goes (the header in memory, the pixel
   * data copied by range), so an object of any size takes a few MiB while it goes.
   */
  request(instance: InstanceRow, sendAs: string = instance.transferSyntaxUid): CStoreRequestInstance | undefined {
    const path = this.files.get(instance.id);
    if (!path) return undefined;
    if (sendAs === instance.transferSyntaxUid) return new requests.CStoreRequest(new FileDataset(instance.sopClassUid, instance.sopInstanceUid, sendAs, path));
    const converted = `${path}.${sendAs === TS.ImplicitVRLittleEndian ? 'implicit' : 'explicit'}`;
    let made: Promise<void> | undefined;
    const prepare = (): Promise<void> => (made ??= transcodeLittleEndianFile(path, converted, instance.transferSyntaxUid, sendAs));
    return new requests.CStoreRequest(new FileDataset(instance.sopClassUid, instance.sopInstanceUid, sendAs, converted, 0, undefined, prepare));
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

interface AcceptedContexts {
  getPresentationContexts(): { context: { getAbstractSyntaxUid(): string; getResult(): number; getAcceptedTransferSyntaxUid(): string } }[];
}

/**
 * The transfer syntax to send an object in over an association: its own when accepted for its SOP
 * class, else the other uncompressed little endian syntax when that is (values are not decoded);
 * undefined when the object cannot go.
 */
export function sendableSyntax(association: unknown, instance: InstanceRow): string | undefined {
  const accepted = (association as AcceptedContexts)
    .getPresentationContexts()
    .map(({ context }) => context)
    .filter((c) => c.getAbstractSyntaxUid() === instance.sopClassUid && c.getResult() === 0)
    .map((c) => c.getAcceptedTransferSyntaxUid());
  if (accepted.includes(instance.transferSyntaxUid)) return instance.transferSyntaxUid;
  if (!isUncompressedLittleEndian(instance.transferSyntaxUid)) return undefined;
  return accepted.find((ts) => isUncompressedLittleEndian(ts));
}

export interface Destination {
  readonly aet: string;
  readonly host: string;
  readonly port: number;
}

/**
 * C-STORE sub-operations to another AE (C-MOVE, PS3.4 C.4.2.3): one association, the stored
 * transfer syntax proposed first. An object whose syntax the destination does not accept fails
 * (the archive does not decode compressed data to re-encode it).
 */
export async function storeToDestination(
  objects: MaterializedObjects,
  instances: readonly InstanceRow[],
  destination: Destination,
  callingAet: string,
  timeouts: { associationTimeoutMs: number; pduTimeoutMs: number },
  tally: SubOperationTally,
  onProgress: () => void,
): Promise<'done' | 'rejected' | 'unreachable'> {
  const client = new Client();
  const pending = new Map<CStoreRequestInstance, InstanceRow>();
  // A context of its own for each stored (SOP class, transfer syntax), so that the destination can
  // accept exactly the syntax the object is in (dcmjs-dimse's default context offers ILE and ELE together).
  const offered = new Set<string>();
  for (const instance of instances) {
    const key = `${instance.sopClassUid}|${instance.transferSyntaxUid}`;
    if (offered.has(key)) continue;
    offered.add(key);
    client.addAdditionalPresentationContext(new association.PresentationContext(0, instance.sopClassUid, instance.transferSyntaxUid), true);
  }
  const watch = (request: CStoreRequestInstance, instance: InstanceRow): void => {
    request.on('response', (response: ResponseInstance) => {
      if (response.getStatus() === DimseStatus.Pending) return;
      pending.delete(request);
      countResponse(tally, instance.sopInstanceUid, response.getStatus());
      onProgress();
    });
  };
  for (const instance of instances) {
    const request = objects.request(instance);
    if (!request) continue;
    pending.set(request, instance);
    watch(request, instance);
    client.addRequest(request);
  }
  if (pending.size === 0) return 'done';
  return new Promise((resolve) => {
    let outcome: 'done' | 'rejected' | 'unreachable' = 'done';
    client.on('associationAccepted', (association: unknown) => {
      // Objects go in a syntax the destination accepted (their own, or the other uncompressed
      // little endian one); the rest fail without being sent, never transcoded by decoding.
      const sendable: CStoreRequestInstance[] = [];
      for (const [request, instance] of [...pending]) {
        pending.delete(request);
        const syntax = sendableSyntax(association, instance);
        const chosen = syntax === undefined ? undefined : syntax === instance.transferSyntaxUid ? request : objects.request(instance, syntax);
        if (!chosen) {
          countResponse(tally, instance.sopInstanceUid, undefined);
          continue;
        }
        pending.set(chosen, instance);
        if (chosen !== request) watch(chosen, instance);
        sendable.push(chosen);
      }
      client.clearRequests();
      for (const request of sendable) client.addRequest(request);
      if (sendable.length === 0) client.addRequest(new requests.CEchoRequest());
    });
    client.on('associationRejected', () => {
      outcome = 'rejected';
    });
    client.on('networkError', () => {
      if (outcome === 'done') outcome = 'unreachable';
    });
    client.on('closed', () => {
      for (const [, instance] of pending) countResponse(tally, instance.sopInstanceUid, undefined);
      pending.clear();
      resolve(outcome);
    });
    client.send(destination.host, destination.port, callingAet, destination.aet, {
      associationTimeout: timeouts.associationTimeoutMs,
      pduTimeout: timeouts.pduTimeoutMs,
      connectTimeout: timeouts.associationTimeoutMs,
    });
    // dcmtk and dcmjs-dimse leave Nagle on; each small PDU would wait for a delayed ACK.
    (client as unknown as { network?: { socket?: { setNoDelay(v: boolean): void } } }).network?.socket?.setNoDelay(true);
  });
}
