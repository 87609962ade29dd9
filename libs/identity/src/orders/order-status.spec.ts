import { describe, expect, it } from '@jest/globals';
import { isFinal, orderStatusOf, stepTransition } from './order-status.js';

describe('IHE SWF step states', () => {
  it('a scheduled step may start, complete, be cancelled or discontinued; a started one may not be cancelled', () => {
    expect(['in-progress', 'completed', 'cancelled', 'discontinued'].map((to) => stepTransition('scheduled', to as never))).toEqual(['allowed', 'allowed', 'allowed', 'allowed']);
    expect(stepTransition('in-progress', 'completed')).toBe('allowed');
    expect(stepTransition('in-progress', 'discontinued')).toBe('allowed');
    expect(stepTransition('in-progress', 'cancelled')).toBe('refused');
    expect(stepTransition('in-progress', 'scheduled')).toBe('refused');
    expect(stepTransition('cancelled', 'cancelled')).toBe('same');
  });

  it('an ended step stays ended', () => {
    for (const ended of ['completed', 'cancelled', 'discontinued'] as const) {
      expect(isFinal(ended)).toBe(true);
      expect(stepTransition(ended, 'scheduled')).toBe('refused');
      expect(stepTransition(ended, 'in-progress')).toBe('refused');
    }
    expect(isFinal('scheduled')).toBe(false);
    expect(isFinal('in-progress')).toBe(false);
  });

  it('the order’s state follows its steps', () => {
    expect(orderStatusOf(['scheduled', 'scheduled'])).toBe('scheduled');
    expect(orderStatusOf(['scheduled', 'cancelled'])).toBe('scheduled');
    expect(orderStatusOf(['scheduled', 'completed'])).toBe('in-progress');
    expect(orderStatusOf(['in-progress', 'cancelled'])).toBe('in-progress');
    expect(orderStatusOf(['completed', 'cancelled'])).toBe('completed');
    expect(orderStatusOf(['completed', 'discontinued'])).toBe('discontinued');
    expect(orderStatusOf(['cancelled', 'cancelled'])).toBe('cancelled');
  });
});
