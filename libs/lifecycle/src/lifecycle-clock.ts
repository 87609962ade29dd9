import { Injectable } from '@nestjs/common';

/**
 * The lifecycle's "now": tiering ages, retention expiry, rehydration hold times and prefetch
 * windows are all computed against it (passed to SQL as a parameter, never `now()`), so tests can
 * move time without waiting years.
 */
@Injectable()
export class LifecycleClock {
  private fixed?: Date;

  now(): Date {
    return this.fixed ? new Date(this.fixed) : new Date();
  }

  /** Tests: stop the clock at `at` (undefined: real time again). */
  set(at: Date | undefined): void {
    this.fixed = at ? new Date(at) : undefined;
  }

  /** Today as a date (UTC), for date-only comparisons in SQL. */
  today(): string {
    return this.now().toISOString().slice(0, 10);
  }
}
