import type { Writable } from 'node:stream';

/** The part of a socket that backpressure needs. */
export interface Pausable {
  pause(): unknown;
  resume(): unknown;
  isPaused(): boolean;
}

/**
 * Makes `writer.write` pause `source` when the writer is behind (write() returned false) and
 * resume it when the writer drains. dcmjs-dimse ignores write()'s return value; honouring it here
 * makes a slow disk slow the sender, not fill memory. A writer that is ending emits no 'drain'
 * (Node skips it once end() was called): its 'finish' or 'close' resumes the source too, or the
 * next PDU on the association (an A-RELEASE-RQ, say) would never be read.
 */
export function pauseWhileBehind(source: Pausable, writer: Writable): void {
  const resume = (): void => {
    if (source.isPaused()) source.resume();
  };
  writer.once('finish', resume);
  writer.once('close', resume);
  const write = writer.write.bind(writer) as (chunk: Buffer) => boolean;
  (writer as unknown as { write: (chunk: Buffer) => boolean }).write = (chunk: Buffer): boolean => {
    const ok = write(chunk);
    if (!ok && !source.isPaused()) {
      source.pause();
      writer.once('drain', resume);
    }
    return ok;
  };
}
