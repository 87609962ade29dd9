import { describe, expect, it } from '@jest/globals';
import { AllowedSenders } from './allowed-senders.js';

describe('AllowedSenders', () => {
  it('matches APP@FACILITY with * wildcards, case-insensitively', () => {
    const s = new AllowedSenders([
      { application: 'RIS', facility: 'NORTHSIDE' },
      { application: 'HIS*', facility: '*' },
    ]);
    expect(s.allows('RIS', 'NORTHSIDE')).toBe(true);
    expect(s.allows('ris', 'northside')).toBe(true);
    expect(s.allows('RIS', 'SOUTHSIDE')).toBe(false);
    expect(s.allows('HIS-2', 'ANYWHERE')).toBe(true);
    expect(s.allows('XHIS', 'ANYWHERE')).toBe(false);
    expect(s.allows('R.S', 'NORTHSIDE')).toBe(false);
  });

  it('allows nobody when nothing is configured', () => {
    const s = new AllowedSenders([]);
    expect(s.configured).toBe(false);
    expect(s.allows('RIS', 'NORTHSIDE')).toBe(false);
  });
});
