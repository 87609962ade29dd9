import { describe, expect, it } from '@jest/globals';
import { LifecycleClock } from './lifecycle-clock.js';

describe('LifecycleClock', () => {
  it('runs on real time until set, then stays where it was put (a copy each time), and goes back', () => {
    const clock = new LifecycleClock();
    expect(Math.abs(clock.now().getTime() - Date.now())).toBeLessThan(1000);
    clock.set(new Date('2031-02-03T23:30:00Z'));
    const now = clock.now();
    now.setFullYear(1999);
    expect(clock.now().toISOString()).toBe('2031-02-03T23:30:00.000Z');
    expect(clock.today()).toBe('2031-02-03');
    clock.set(undefined);
    expect(clock.now().getFullYear()).toBeGreaterThanOrEqual(2026);
  });
});
