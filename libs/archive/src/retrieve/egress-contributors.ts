import { Injectable } from '@nestjs/common';
import type { WriteElement } from '#vna/dicom';
import type { InstanceRow } from './instance-row.js';

/** What a feature adds to the egress overlay of one object for one destination. */
export interface EgressAdjustment {
  /** Elements to lay over (after the index's own layers). */
  readonly replace?: readonly WriteElement[];
  /** Elements to leave out. */
  readonly remove?: readonly number[];
  /** The destination's character set: where a rewritten header goes; `force`: every header is written in it. */
  readonly charset?: { readonly target: readonly string[]; readonly force: boolean };
}

/** Per destination: egress coercion rules and character sets (libs/normalization). */
export type EgressContributor = (instance: InstanceRow, destination: string) => EgressAdjustment | undefined | Promise<EgressAdjustment | undefined>;

/** Contributors by registration (feature libs register in onModuleInit); the overlay does not know them. */
@Injectable()
export class EgressContributorRegistry {
  private readonly contributors: EgressContributor[] = [];

  register(contributor: EgressContributor): void {
    this.contributors.push(contributor);
  }

  all(): readonly EgressContributor[] {
    return this.contributors;
  }
}
