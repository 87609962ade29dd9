import { Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import type { InstanceRow } from './instance-row.js';

/**
 * The one place where the index's current values are laid over a stored original on its way out
 * (ARCHITECTURE.md invariant 2: originals are immutable, corrections live in the index).
 *
 * Every retrieve path (WADO-RS, C-MOVE, C-GET, forwarding) passes its objects through `apply`.
 * Today the index holds no corrections, so objects leave byte for byte as stored; the HL7 issue
 * (merges, demographics) and the normalization issue (coercion results, charset per destination)
 * fill this in.
 */
@Injectable()
export class EgressOverlay {
  /** The object as it should leave: a Part 10 stream. `destination` names the receiver (AE title or 'dicomweb'). */
  apply(_instance: InstanceRow, original: Readable, _destination: string): Readable {
    return original;
  }
}
