/**
 * Limits on one DICOM connection that dcmjs-dimse does not enforce, checked below it on the raw
 * bytes (PS3.8 9.3 PDU structure, 9.1.5 ARTIM timer). The library buffers a PDU whole before it
 * parses it, so a header announcing 1 GiB would have it buffer (and re-copy) for ever; its own
 * timers miss a client that never completes an association request and cut operations that are
 * merely slow on the archive's side. Pure: the caller feeds bytes and clock ticks and acts on
 * the verdict (DimseServer sends an A-ABORT and closes).
 */

/** PDU types (PS3.8 Table 9-1). */
export const PduType = {
  AssociateRq: 0x01,
  AssociateAc: 0x02,
  AssociateRj: 0x03,
  PDataTf: 0x04,
  ReleaseRq: 0x05,
  ReleaseRp: 0x06,
  Abort: 0x07,
} as const;

/** A-ABORT reasons when the archive is the source (PS3.8 9.3.8, Table 9-26). */
export const AbortReason = {
  NotSpecified: 0,
  UnrecognizedPdu: 1,
  UnexpectedPdu: 2,
  InvalidPduParameterValue: 6,
} as const;

export interface GuardLimits {
  /** Largest P-DATA-TF the archive takes: the Maximum Length it advertised, plus a little slack. */
  readonly maxPDataLength: number;
  /** Largest PDU of any other type (an A-ASSOCIATE-RQ with every context and user identity fits). */
  readonly maxOtherLength: number;
  /** The whole A-ASSOCIATE-RQ must have arrived this long after the connection opened (ARTIM). */
  readonly associationTimeoutMs: number;
  /** An association idle this long (nothing received, no operation in progress) is aborted. */
  readonly idleTimeoutMs: number;
}

export interface GuardViolation {
  readonly kind: 'unrecognized-pdu' | 'unexpected-pdu' | 'pdu-too-large' | 'association-timeout' | 'idle-timeout';
  /** For the log: what was wrong (never data from the PDU beyond its type and length). */
  readonly detail: string;
  /** The A-ABORT reason to send; none when the transport is simply closed (ARTIM expiry, PS3.8 9.2 AA-2). */
  readonly abortReason?: number;
}

/** Extra bytes over the advertised Maximum Length tolerated in a P-DATA-TF (peers that count the PDV headers differently). */
export const PDATA_SLACK = 1024;

export class AssociationGuard {
  private readonly header = Buffer.alloc(6);
  private headerFill = 0;
  /** Bytes of the current PDU's body still to come. */
  private remaining = 0;
  private currentType = 0;
  private requestComplete = false;
  private pdus = 0;
  private busy = 0;
  private lastActivity: number;
  private violation?: GuardViolation;

  constructor(
    private readonly limits: GuardLimits,
    private readonly connectedAt: number,
  ) {
    this.lastActivity = connectedAt;
  }

  /** Whether a complete A-ASSOCIATE-RQ has been received. */
  get associationRequested(): boolean {
    return this.requestComplete;
  }

  /** Reads PDU boundaries in received bytes; a violation means: pass nothing more to the library. */
  received(chunk: Buffer, now: number): GuardViolation | undefined {
    if (this.violation) return this.violation;
    this.lastActivity = now;
    let pos = 0;
    while (pos < chunk.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - pos);
        this.remaining -= n;
        pos += n;
        if (this.remaining === 0) this.pduComplete();
        continue;
      }
      const n = Math.min(6 - this.headerFill, chunk.length - pos);
      chunk.copy(this.header, this.headerFill, pos, pos + n);
      this.headerFill += n;
      pos += n;
      if (this.headerFill < 6) break;
      this.headerFill = 0;
      const violation = this.checkHeader(this.header.readUInt8(0), this.header.readUInt32BE(2));
      if (violation) return (this.violation = violation);
    }
    return undefined;
  }

  private checkHeader(type: number, length: number): GuardViolation | undefined {
    if (type < PduType.AssociateRq || type > PduType.Abort) {
      return { kind: 'unrecognized-pdu', detail: `unknown PDU type 0x${type.toString(16).padStart(2, '0')}`, abortReason: AbortReason.UnrecognizedPdu };
    }
    // Before the association, only an A-ASSOCIATE-RQ (or an abort) is valid (PS3.8 9.2, state Sta2).
    if (this.pdus === 0 && type !== PduType.AssociateRq && type !== PduType.Abort) {
      return { kind: 'unexpected-pdu', detail: `PDU type 0x${type.toString(16).padStart(2, '0')} before A-ASSOCIATE-RQ`, abortReason: AbortReason.UnexpectedPdu };
    }
    const max = type === PduType.PDataTf ? this.limits.maxPDataLength : this.limits.maxOtherLength;
    if (length > max) {
      return { kind: 'pdu-too-large', detail: `PDU type 0x${type.toString(16).padStart(2, '0')} announces ${length} bytes (limit ${max})`, abortReason: AbortReason.InvalidPduParameterValue };
    }
    this.currentType = type;
    this.remaining = length;
    if (length === 0) this.pduComplete();
    return undefined;
  }

  private pduComplete(): void {
    this.pdus++;
    if (this.currentType === PduType.AssociateRq) this.requestComplete = true;
  }

  /** An operation (a C-STORE being committed, a C-MOVE running) started: the peer is waiting for the archive. */
  operationStarted(): void {
    this.busy++;
  }

  operationFinished(now: number): void {
    if (this.busy > 0) this.busy--;
    this.lastActivity = now;
  }

  /**
   * Called about once a second. `paused`: the archive stopped reading (its disk is catching up),
   * so silence is not the peer's fault.
   */
  tick(now: number, paused: boolean): GuardViolation | undefined {
    if (this.violation) return undefined;
    if (!this.requestComplete) {
      if (now - this.connectedAt >= this.limits.associationTimeoutMs) {
        return (this.violation = {
          kind: 'association-timeout',
          detail: `no complete A-ASSOCIATE-RQ within ${this.limits.associationTimeoutMs} ms`,
        });
      }
      return undefined;
    }
    if (this.busy === 0 && !paused && now - this.lastActivity >= this.limits.idleTimeoutMs) {
      return (this.violation = {
        kind: 'idle-timeout',
        detail: `nothing received for ${this.limits.idleTimeoutMs} ms`,
        abortReason: AbortReason.NotSpecified,
      });
    }
    return undefined;
  }
}

/** An A-ABORT PDU from the service provider (PS3.8 9.3.8). */
export function abortPdu(reason: number): Buffer {
  return Buffer.from([PduType.Abort, 0, 0, 0, 0, 4, 0, 0, 2, reason]);
}
