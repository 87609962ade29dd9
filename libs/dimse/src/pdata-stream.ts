import { open } from 'node:fs/promises';

/** P-DATA-TF (PS3.8 9.3.5). */
export const PDATA_TF = 0x04;
/** PDU header (type, reserved, 32-bit length) plus one PDV item header (32-bit length, context id, control header). */
const HEADERS = 12;
/** The largest PDU dcmjs-dimse sends whatever the peer takes; the archive keeps its cap. */
export const MAX_SEND_PDU = 4 * 1024 * 1024;

/** The Maximum Length to send in (PS3.8 D.1): the peer's, 0 meaning no limit, capped at MAX_SEND_PDU. */
export function sendPduLength(peerMaxPdu: number): number {
  return peerMaxPdu === 0 ? MAX_SEND_PDU : Math.min(peerMaxPdu, MAX_SEND_PDU);
}

function writeHeaders(pdu: Buffer, pcId: number, valueLength: number, command: boolean, last: boolean): void {
  pdu[0] = PDATA_TF;
  pdu[1] = 0;
  pdu.writeUInt32BE(valueLength + 6, 2);
  pdu.writeUInt32BE(valueLength + 2, 6);
  pdu[10] = pcId;
  // Message control header: bit 0 command (1) or data (0), bit 1 last fragment.
  pdu[11] = (command ? 1 : 0) | (last ? 2 : 0);
}

/** One P-DATA-TF PDU carrying one PDV (the value copied after the headers). */
export function pDataTfPdu(pcId: number, value: Buffer, command: boolean, last: boolean): Buffer {
  const pdu = Buffer.allocUnsafe(HEADERS + value.length);
  writeHeaders(pdu, pcId, value.length, command, last);
  value.copy(pdu, HEADERS);
  return pdu;
}

/** What the stream uses of a net.Socket. */
export interface PduSink {
  write(chunk: Buffer): boolean;
  readonly destroyed: boolean;
  readonly writable: boolean;
  once(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
  off(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
}

/** A dataset's bytes in a file: `length` bytes from `offset` (to the end of the file when undefined). */
export interface FileRange {
  readonly path: string;
  readonly offset: number;
  readonly length?: number;
}

export interface StreamHooks {
  /** Bytes handed to the socket (PDU headers included). */
  sent(bytes: number): void;
  /** The socket took what it was given after having been behind: the transfer is moving. */
  progressed?(): void;
  /** True when the message must stop (the association is being aborted). */
  stopped?(): boolean;
  /** About how many dataset bytes to read and hand to the socket at a time, as whole PDUs (default 1 MiB; at least one PDU). */
  batchBytes?: number;
}

const BATCH_BYTES = 1024 * 1024;

function ensureWritable(sink: PduSink): void {
  if (sink.destroyed || !sink.writable) throw new Error('connection closed while sending a dataset');
}

/** Resolves on 'drain'; rejects when the socket closes or fails first (no 'drain' would ever come). */
function drained(sink: PduSink): Promise<void> {
  ensureWritable(sink);
  return new Promise((resolve, reject) => {
    const settle = (error?: Error): void => {
      sink.off('drain', onDrain);
      sink.off('close', onClose);
      sink.off('error', onError);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = (): void => settle();
    const onClose = (): void => settle(new Error('connection closed while sending a dataset'));
    const onError = (e: unknown): void => settle(e instanceof Error ? e : new Error(String(e)));
    sink.once('drain', onDrain);
    sink.once('close', onClose);
    sink.once('error', onError);
  });
}

/**
 * Sends one DIMSE message whose dataset is in a file: the command set in one P-DATA-TF, then the
 * dataset read from the file in PDVs of at most (Maximum Length - 6) bytes, one per PDU, the last
 * fragment marked. The file is read about a MiB at a time and each batch goes to the socket as one
 * write of whole PDUs; the socket's backpressure is honoured (the next batch waits for 'drain',
 * the one after is read from disk meanwhile), so a few MiB of the object are in memory whatever its
 * size. Every write ends on a PDU boundary, so a failure (the file unreadable, the socket closed)
 * leaves the socket between PDUs; it rejects, and the caller ends the association. The file is
 * opened before anything is written: a missing file sends nothing.
 */
export async function streamFileMessage(sink: PduSink, pcId: number, command: Buffer, file: FileRange, peerMaxPdu: number, hooks: StreamHooks): Promise<void> {
  const handle = await open(file.path, 'r');
  let next: Promise<Buffer> | undefined;
  try {
    const size = file.length ?? Math.max(0, (await handle.stat()).size - file.offset);
    const fragment = sendPduLength(peerMaxPdu) - 6;
    const perBatch = Math.max(1, Math.floor((hooks.batchBytes ?? BATCH_BYTES) / fragment)) * fragment;
    const raw = Buffer.allocUnsafe(Math.min(perBatch, size));
    /** The PDUs carrying the dataset bytes from `at` (up to one batch), headers and values in one buffer. */
    const read = async (at: number): Promise<Buffer> => {
      const n = Math.min(perBatch, size - at);
      for (let got = 0; got < n; ) {
        const { bytesRead } = await handle.read(raw, got, n - got, file.offset + at + got);
        if (bytesRead === 0) throw new Error(`dataset file ended after ${at + got} of ${size} bytes`);
        got += bytesRead;
      }
      const pdus = Math.max(1, Math.ceil(n / fragment));
      const out = Buffer.allocUnsafe(n + pdus * HEADERS);
      for (let i = 0, from = 0, to = 0; i < pdus; i++) {
        const length = Math.min(fragment, n - from);
        writeHeaders(out.subarray(to), pcId, length, false, at + from + length >= size);
        raw.copy(out, to + HEADERS, from, from + length);
        from += length;
        to += HEADERS + length;
      }
      return out;
    };
    const stop = (): void => {
      if (hooks.stopped?.()) throw new Error('association aborted while sending a dataset');
      ensureWritable(sink);
    };
    stop();
    const commandPdu = pDataTfPdu(pcId, command, true, true);
    sink.write(commandPdu);
    hooks.sent(commandPdu.length);
    let at = 0;
    next = read(0);
    // A read failing while the previous batch drains is reported when awaited, not as an unhandled rejection.
    next.catch(() => undefined);
    while (next) {
      const batch = await next;
      at = Math.min(size, at + perBatch);
      // The next batch is read into `raw` while this one (a copy) drains.
      next = at < size ? read(at) : undefined;
      next?.catch(() => undefined);
      stop();
      const ok = sink.write(batch);
      hooks.sent(batch.length);
      if (!ok) {
        await drained(sink);
        hooks.progressed?.();
      }
    }
  } finally {
    // A read in flight finishes before the handle closes.
    await next?.catch(() => undefined);
    await handle.close();
  }
}
