import type { Socket } from 'node:net';
import { Logger } from '@nestjs/common';
import type { SpoolWriter } from '#vna/archive';
import { EXPLICIT_LE, encodeDataset, IMPLICIT_LE, Tag, TS } from '#vna/dicom';
import { decideContext, isStorageClass } from './association-policy.js';
import { pauseWhileBehind } from './backpressure.js';
import {
  type AssociationInstance,
  type CEchoRequestInstance,
  type CFindRequestInstance,
  type CGetRequestInstance,
  type CMoveRequestInstance,
  constants,
  type CStoreRequestInstance,
  Dataset,
  RawDataset,
  rawBytesOf,
  type RequestInstance,
  responses,
  type ResponseInstance,
  Scp,
} from './dcmjs-dimse.js';
import type { DimseReply, DimseService } from './dimse.service.js';
import { DimseStatus } from './dimse-status.js';
import { countResponse, emptyTally, sendableSyntax, type SubOperationTally } from './store-scu.js';

const { PresentationContextResult, RejectResult, RejectSource, RejectReason } = constants;

/** Told when an operation starts and when its final response is handed back (see AssociationGuard). */
export interface OperationTracker {
  operationStarted(): void;
  operationFinished(now: number): void;
}

/** The dataset handed to cStoreRequest: the spool writer that received the bytes, not parsed data. */
class SpooledDataset extends Dataset {
  constructor(readonly writer: SpoolWriter) {
    super({}, TS.ExplicitVRLittleEndian);
  }
}

type PresentationContextLike = {
  getAbstractSyntaxUid(): string;
  getTransferSyntaxUids(): string[];
  getAcceptedTransferSyntaxUid(): string;
  setResult(result: number, ts?: string): void;
};

function identifierDataset(bytes: Buffer, transferSyntaxUid: string): RawDataset {
  return new RawDataset('', '', transferSyntaxUid, () => bytes);
}

function failedUidList(tally: SubOperationTally, transferSyntaxUid: string): RawDataset | undefined {
  if (tally.failedUids.length === 0) return undefined;
  const enc = transferSyntaxUid === TS.ImplicitVRLittleEndian ? IMPLICIT_LE : EXPLICIT_LE;
  // Failed SOP Instance UID List (0008,0058), PS3.4 C.4.2.1.4.
  return identifierDataset(encodeDataset([{ tag: 0x00080058, vr: 'UI', value: tally.failedUids }], enc), transferSyntaxUid);
}

/**
 * Builds the SCP class dcmjs-dimse instantiates per connection, bound to the archive's services.
 * It translates protocol objects to DimseService calls and back; no decisions are made here.
 */
export function createScpClass(service: DimseService, callingAeAllowed: (aet: string) => Promise<boolean>) {
  const logger = new Logger('DIMSE');
  const config = service.config;

  return class VnaScp extends Scp {
    private callingAet = '';
    /** The object whose bytes are arriving, until its last fragment. */
    private receiving?: SpoolWriter;

    constructor(
      private readonly tcp: Socket,
      options: Record<string, unknown>,
      private readonly operations: OperationTracker,
    ) {
      super(tcp, options);
      // The library's timers (a socket idle timeout and a PDU timer that counts only received PDUs)
      // would cut a C-MOVE or a commit that is slow on the archive's side; DimseServer's
      // AssociationGuard times associations instead.
      tcp.setTimeout(0);
      clearInterval((this as unknown as { timeoutIntervalId?: NodeJS.Timeout }).timeoutIntervalId);
      // A transfer cut off mid-object leaves no spool file behind (nor an open file handle).
      this.on('close', () => {
        this.receiving?.destroy();
        this.receiving = undefined;
      });
    }

    /** The calling AE title, once an association was requested (for logs). */
    get peerAet(): string {
      return this.callingAet;
    }

    /** Wraps a response callback so that the guard knows an operation is in progress until it is answered. */
    private tracked<A extends unknown[]>(callback: (...args: A) => void): (...args: A) => void {
      this.operations.operationStarted();
      let open = true;
      return (...args: A) => {
        if (open) {
          open = false;
          this.operations.operationFinished(Date.now());
        }
        callback(...args);
      };
    }

    private assoc(): AssociationInstance {
      return (this as unknown as { association: AssociationInstance }).association;
    }

    private contextOf(request: RequestInstance): PresentationContextLike | undefined {
      return this.assoc().getAcceptedPresentationContextFromRequest(request) as unknown as PresentationContextLike | undefined;
    }

    override associationRequested(association: AssociationInstance): void {
      void this.evaluate(association).catch((e: Error) => {
        logger.error(`association evaluation failed: ${e.message}`);
        this.sendAssociationReject(RejectResult.Transient, RejectSource.ServiceProviderPresentation, RejectReason.TemporaryCongestion);
      });
    }

    private async evaluate(association: AssociationInstance): Promise<void> {
      this.callingAet = association.getCallingAeTitle().trim();
      const called = association.getCalledAeTitle().trim();
      if (called !== config.dicom.aet) {
        logger.warn(`rejected association from ${this.callingAet}: called AE ${called} is not ${config.dicom.aet}`);
        this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CalledAeNotRecognized);
        return;
      }
      if (!(await callingAeAllowed(this.callingAet))) {
        logger.warn(`rejected association: calling AE ${this.callingAet} is not a known node`);
        this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CallingAeNotRecognized);
        return;
      }
      for (const { context } of association.getPresentationContexts()) {
        const pc = context as unknown as PresentationContextLike;
        const decision = decideContext(pc.getAbstractSyntaxUid(), pc.getTransferSyntaxUids());
        if (decision.accept) pc.setResult(PresentationContextResult.Accept, decision.transferSyntaxUid);
        else {
          pc.setResult(
            decision.reason === 'abstract-syntax'
              ? PresentationContextResult.RejectAbstractSyntaxNotSupported
              : PresentationContextResult.RejectTransferSyntaxesNotSupported,
          );
        }
      }
      // One association object holds both directions' Maximum Length (PS3.8 D.1): the AC carries
      // the archive's, and what the archive sends must then fit the peer's (0: no limit).
      const peerMaxPdu = association.getMaxPduLength();
      association.setMaxPduLength(config.dicom.maxPduLength);
      this.sendAssociationAccept();
      association.setMaxPduLength(peerMaxPdu);
    }

    override associationReleaseRequested(): void {
      this.sendAssociationReleaseResponse();
    }

    override cEchoRequest(request: CEchoRequestInstance, callback: (response: ResponseInstance) => void): void {
      const response = responses.CEchoResponse.fromRequest(request);
      response.setStatus(DimseStatus.Success);
      callback(response);
    }

    /** The dataset streams to the spool as it arrives; the socket pauses while the disk catches up. */
    override createStoreWritableStream(context: unknown, request: CStoreRequestInstance) {
      const pc = context as PresentationContextLike;
      const writer = service.ingest.createWriter({
        kind: 'dataset',
        transferSyntaxUid: pc.getAcceptedTransferSyntaxUid(),
        sopClassUid: request.getAffectedSopClassUid(),
        sopInstanceUid: request.getAffectedSopInstanceUid(),
      });
      pauseWhileBehind(this.tcp, writer);
      this.receiving = writer;
      return writer;
    }

    override createDatasetFromStoreWritableStream(writable: unknown, _context: unknown, callback: (dataset: InstanceType<typeof Dataset>) => void): void {
      if (this.receiving === writable) this.receiving = undefined;
      callback(new SpooledDataset(writable as SpoolWriter));
    }

    override cStoreRequest(request: CStoreRequestInstance, untracked: (response: ResponseInstance) => void): void {
      const callback = this.tracked(untracked);
      const dataset = request.getDataset();
      const respond = (reply: DimseReply): void => {
        const response = responses.CStoreResponse.fromRequest(request);
        response.setStatus(reply.status);
        if (reply.comment) response.setErrorComment(reply.comment);
        callback(response);
      };
      if (!(dataset instanceof SpooledDataset)) {
        respond({ status: DimseStatus.CannotUnderstand, comment: 'no dataset' });
        return;
      }
      if (!isStorageClass(request.getAffectedSopClassUid())) {
        dataset.writer.destroy();
        respond({ status: DimseStatus.SopClassNotSupported, comment: 'not a storage SOP class' });
        return;
      }
      void service.store(dataset.writer, this.callingAet).then(respond);
    }

    override cFindRequest(request: CFindRequestInstance, untracked: (list: InstanceType<typeof responses.CFindResponse>[]) => void): void {
      const callback = this.tracked(untracked);
      const ts = this.contextOf(request)?.getAcceptedTransferSyntaxUid() ?? TS.ImplicitVRLittleEndian;
      void service.find(request.getAffectedSopClassUid(), rawBytesOf(request.getDataset()), ts).then((replies) => {
        callback(
          replies.map((reply) => {
            const response = responses.CFindResponse.fromRequest(request);
            response.setStatus(reply.status);
            if (reply.comment) response.setErrorComment(reply.comment);
            if (reply.identifier) response.setDataset(identifierDataset(reply.identifier, ts));
            return response;
          }),
        );
      });
    }

    override cMoveRequest(request: CMoveRequestInstance, untracked: (list: InstanceType<typeof responses.CMoveResponse>[]) => void): void {
      const callback = this.tracked(untracked);
      const ts = this.contextOf(request)?.getAcceptedTransferSyntaxUid() ?? TS.ImplicitVRLittleEndian;
      const destination = String(request.getCommandDataset().getElement('MoveDestination') ?? '').trim();
      let answered = false;
      const respond = (reply: DimseReply, tally?: SubOperationTally, remaining = 0): void => {
        const response = responses.CMoveResponse.fromRequest(request);
        response.setStatus(reply.status);
        if (reply.comment) response.setErrorComment(reply.comment);
        if (tally) {
          response.setCompleted(tally.completed);
          response.setFailures(tally.failed);
          response.setWarnings(tally.warning);
          if (reply.status === DimseStatus.Pending) response.setRemaining(remaining);
          const failed = reply.status !== DimseStatus.Pending ? failedUidList(tally, ts) : undefined;
          if (failed) response.setDataset(failed);
        }
        // dcmjs-dimse's callback may be called once: pending responses go out directly, the final one through it.
        try {
          if (reply.status === DimseStatus.Pending) this.sendResponse(request, response);
          else if (!answered) {
            answered = true;
            callback([response]);
          }
        } catch (e) {
          logger.warn(`could not send a response: ${(e as Error).message}`);
        }
      };
      void (async () => {
        const resolved = await service.resolveRetrieve(rawBytesOf(request.getDataset()), ts);
        if (!Array.isArray(resolved)) return respond(resolved);
        let tally: SubOperationTally = emptyTally();
        const reply = await service.move(destination, resolved, (t, remaining) => {
          tally = t;
          respond({ status: DimseStatus.Pending }, t, remaining);
        });
        respond(reply, tally);
      })().catch((e: Error) => {
        logger.error(`C-MOVE: ${e.message}`);
        respond({ status: DimseStatus.OutOfResourcesSubOperations, comment: 'internal error' });
      });
    }

    /** C-GET (PS3.4 C.4.3): C-STORE sub-operations on this same association. */
    override cGetRequest(request: CGetRequestInstance, untracked: (list: InstanceType<typeof responses.CGetResponse>[]) => void): void {
      const callback = this.tracked(untracked);
      const ts = this.contextOf(request)?.getAcceptedTransferSyntaxUid() ?? TS.ImplicitVRLittleEndian;
      let answered = false;
      const respond = (reply: DimseReply, tally?: SubOperationTally, remaining = 0): void => {
        const response = responses.CGetResponse.fromRequest(request);
        response.setStatus(reply.status);
        if (reply.comment) response.setErrorComment(reply.comment);
        if (tally) {
          response.setCompleted(tally.completed);
          response.setFailures(tally.failed);
          response.setWarnings(tally.warning);
          if (reply.status === DimseStatus.Pending) response.setRemaining(remaining);
          const failed = reply.status !== DimseStatus.Pending ? failedUidList(tally, ts) : undefined;
          if (failed) response.setDataset(failed);
        }
        // dcmjs-dimse's callback may be called once: pending responses go out directly, the final one through it.
        try {
          if (reply.status === DimseStatus.Pending) this.sendResponse(request, response);
          else if (!answered) {
            answered = true;
            callback([response]);
          }
        } catch (e) {
          logger.warn(`could not send a response: ${(e as Error).message}`);
        }
      };
      void (async () => {
        const resolved = await service.resolveRetrieve(rawBytesOf(request.getDataset()), ts);
        if (!Array.isArray(resolved)) return respond(resolved);
        const tally = emptyTally();
        const objects = await service.materialize(resolved, this.callingAet, tally);
        try {
          const sendable: CStoreRequestInstance[] = [];
          for (const instance of resolved) {
            // In the stored syntax, or the other uncompressed little endian one; never by decoding.
            const syntax = sendableSyntax(this.assoc(), instance);
            const sub = syntax ? objects.request(instance, syntax) : undefined;
            if (!sub) {
              if (!syntax) countResponse(tally, instance.sopInstanceUid, undefined);
              continue;
            }
            sendable.push(sub);
            sub.on('response', (r: ResponseInstance) => {
              if (r.getStatus() === DimseStatus.Pending) return;
              countResponse(tally, instance.sopInstanceUid, r.getStatus());
            });
          }
          if (sendable.length > 0) {
            await new Promise<void>((resolve) => {
              let left = sendable.length;
              const closed = (): void => resolve();
              this.once('close', closed);
              for (const sub of sendable) {
                sub.on('done', () => {
                  left--;
                  respond({ status: DimseStatus.Pending }, tally, resolved.length - tally.completed - tally.failed - tally.warning);
                  if (left === 0) {
                    this.off('close', closed);
                    resolve();
                  }
                });
              }
              this.sendRequests(sendable);
            });
          }
          respond(service.subOperationsReply(tally), tally);
        } finally {
          await objects.dispose();
        }
      })().catch((e: Error) => {
        logger.error(`C-GET: ${e.message}`);
        respond({ status: DimseStatus.OutOfResourcesSubOperations, comment: 'internal error' });
      });
    }

    override cCancelRequest(): void {
      // Matches are sent at once; a cancel arriving meanwhile has nothing left to stop.
    }

    override abort(): void {
      logger.warn(`association with ${this.callingAet || 'a peer'} aborted`);
    }
  };
}
