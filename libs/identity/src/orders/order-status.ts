import type { OrderStatus } from './order.model.js';

/**
 * The states of a scheduled procedure step (IHE SWF, RAD TF-2 4.4 and 4.13; DICOM's SCHEDULED,
 * STARTED, COMPLETED, DISCONTINUED, and CANCELED): a step starts scheduled, may be started, and
 * ends completed, discontinued (stopped after it began) or cancelled (called off before it began).
 * An ended step stays ended: a later message that asks otherwise is refused.
 */
const NEXT: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  scheduled: ['in-progress', 'completed', 'cancelled', 'discontinued'],
  'in-progress': ['completed', 'discontinued'],
  completed: [],
  cancelled: [],
  discontinued: [],
};

export type Transition = 'same' | 'allowed' | 'refused';

export function stepTransition(from: OrderStatus, to: OrderStatus): Transition {
  if (from === to) return 'same';
  return NEXT[from].includes(to) ? 'allowed' : 'refused';
}

export function isFinal(status: OrderStatus): boolean {
  return NEXT[status].length === 0;
}

/**
 * The order's state from its steps': open while any step is (in progress once one began or
 * ended); when all ended, discontinued if any was, else completed if any was, else cancelled.
 */
export function orderStatusOf(steps: readonly OrderStatus[]): OrderStatus {
  if (steps.length === 0) return 'scheduled';
  const has = (s: OrderStatus): boolean => steps.includes(s);
  if (has('in-progress')) return 'in-progress';
  if (has('scheduled')) return steps.every((s) => s === 'scheduled' || s === 'cancelled') ? 'scheduled' : 'in-progress';
  if (has('discontinued')) return 'discontinued';
  if (has('completed')) return 'completed';
  return 'cancelled';
}

/** HL7 ORC-5 (table 0038) for a state, as the archive reports it to the RIS. */
export const ORC5_OF: Readonly<Record<OrderStatus, string>> = {
  scheduled: 'SC',
  'in-progress': 'IP',
  completed: 'CM',
  cancelled: 'CA',
  discontinued: 'DC',
};

/** DICOM Scheduled Procedure Step Status (0040,0020) for a state (PS3.3 C.4.10). */
export const SPS_STATUS_OF: Readonly<Record<OrderStatus, string>> = {
  scheduled: 'SCHEDULED',
  'in-progress': 'STARTED',
  completed: 'COMPLETED',
  cancelled: 'CANCELED',
  discontinued: 'DISCONTINUED',
};
