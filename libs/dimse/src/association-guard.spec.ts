import { describe, expect, it } from '@jest/globals';
import { abortPdu, AbortReason, AssociationGuard, type GuardLimits, PduType } from './association-guard.js';

const limits: GuardLimits = { maxPDataLength: 16384 + 1024, maxOtherLength: 65536, associationTimeoutMs: 2000, idleTimeoutMs: 5000 };

function pdu(type: number, length: number, body = Buffer.alloc(length)): Buffer {
  const header = Buffer.alloc(6);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(length, 2);
  return Buffer.concat([header, body]);
}

describe('AssociationGuard', () => {
  it('follows PDU boundaries across arbitrary chunking', () => {
    const guard = new AssociationGuard(limits, 0);
    const stream = Buffer.concat([pdu(PduType.AssociateRq, 300), pdu(PduType.PDataTf, 17000), pdu(PduType.PDataTf, 12), pdu(PduType.ReleaseRq, 4)]);
    for (let i = 0; i < stream.length; i += 7) expect(guard.received(stream.subarray(i, i + 7), 1)).toBeUndefined();
    expect(guard.associationRequested).toBe(true);
  });

  it('refuses a P-DATA-TF longer than the advertised maximum plus slack, however it is split', () => {
    const guard = new AssociationGuard(limits, 0);
    expect(guard.received(pdu(PduType.AssociateRq, 100), 1)).toBeUndefined();
    const header = pdu(PduType.PDataTf, 1024 ** 3).subarray(0, 6);
    expect(guard.received(header.subarray(0, 3), 2)).toBeUndefined();
    expect(guard.received(header.subarray(3), 2)).toMatchObject({ kind: 'pdu-too-large', abortReason: AbortReason.InvalidPduParameterValue });
    // Once refused, always refused: nothing more is passed on.
    expect(guard.received(Buffer.alloc(10), 3)).toMatchObject({ kind: 'pdu-too-large' });
  });

  it('refuses an A-ASSOCIATE-RQ over 64 KiB, an unknown PDU type and data before the association', () => {
    expect(new AssociationGuard(limits, 0).received(pdu(PduType.AssociateRq, 65537).subarray(0, 6), 1)).toMatchObject({ kind: 'pdu-too-large' });
    expect(new AssociationGuard(limits, 0).received(Buffer.from('GET / HTTP/1.1\r\n'), 1)).toMatchObject({ kind: 'unrecognized-pdu' });
    expect(new AssociationGuard(limits, 0).received(pdu(PduType.PDataTf, 10), 1)).toMatchObject({ kind: 'unexpected-pdu' });
  });

  it('closes a connection whose association request is not complete in time, trickled or not', () => {
    const guard = new AssociationGuard(limits, 0);
    const rq = pdu(PduType.AssociateRq, 200);
    for (let t = 0; t < 1900; t += 100) {
      expect(guard.received(rq.subarray(t / 100, t / 100 + 1), t)).toBeUndefined();
      expect(guard.tick(t, false)).toBeUndefined();
    }
    const violation = guard.tick(2000, false);
    expect(violation?.kind).toBe('association-timeout');
    expect(violation?.abortReason).toBeUndefined(); // ARTIM expiry: the transport is just closed (PS3.8 9.2, AA-2)
  });

  it('aborts an idle association, but not while an operation is in progress or reading is paused', () => {
    const guard = new AssociationGuard(limits, 0);
    guard.received(pdu(PduType.AssociateRq, 100), 100);
    expect(guard.tick(5000, false)).toBeUndefined();
    guard.operationStarted();
    expect(guard.tick(60_000, false)).toBeUndefined();
    guard.operationFinished(60_000);
    expect(guard.tick(64_000, true)).toBeUndefined();
    expect(guard.tick(64_000, false)).toBeUndefined();
    expect(guard.tick(65_000, false)).toMatchObject({ kind: 'idle-timeout', abortReason: AbortReason.NotSpecified });
  });

  it('writes an A-ABORT from the service provider', () => {
    expect([...abortPdu(AbortReason.InvalidPduParameterValue)]).toEqual([7, 0, 0, 0, 0, 4, 0, 0, 2, 6]);
  });
});
