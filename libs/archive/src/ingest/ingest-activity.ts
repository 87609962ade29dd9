import { Injectable } from '@nestjs/common';

/** When this process last received an object: background work (uploads) gives way while it is busy. */
@Injectable()
export class IngestActivity {
  private last = 0;

  touch(): void {
    this.last = Date.now();
  }

  idleMs(): number {
    return Date.now() - this.last;
  }
}
