import cluster from 'node:cluster';
import { Injectable } from '@nestjs/common';

const MESSAGE = 'vna:foreground-activity';
const SHARE_EVERY_MS = 250;

/**
 * When the archive last did work someone is waiting for: received an object (the sender waits for
 * its acknowledgement) or opened one to send (a viewer's WADO-RS, a C-MOVE destination). Background
 * work (uploads) gives way while it is busy. With several worker processes the signal is shared
 * (through the cluster primary), so a worker that is idle itself does not upload while another one
 * is receiving or sending.
 */
@Injectable()
export class ForegroundActivity {
  private last = 0;
  private lastShared = 0;

  constructor() {
    if (cluster.isWorker) {
      process.on('message', (message: { type?: string; broadcast?: boolean }) => {
        if (message?.type === MESSAGE) this.last = Date.now();
      });
    }
  }

  touch(): void {
    this.last = Date.now();
    if (cluster.isWorker && this.last - this.lastShared > SHARE_EVERY_MS) {
      this.lastShared = this.last;
      process.send?.({ type: MESSAGE, broadcast: true });
    }
  }

  idleMs(): number {
    return Date.now() - this.last;
  }
}
