import { describe, expect, it } from '@jest/globals';
import { EgressContributorRegistry } from './egress-contributors.js';
import { egressPlan } from './egress-overlay.js';
import type { InstanceRow } from './instance-row.js';

const row = (over: Partial<InstanceRow>): InstanceRow => ({ instanceOverlay: null, patientOverlay: {}, studyOverlay: {}, seriesOverlay: {}, ...over }) as InstanceRow;

describe('egressPlan (what the overlay lays over one object for one destination)', () => {
  it('is nothing for an object without changes: it leaves as stored', async () => {
    expect(await egressPlan(row({}), 'dicomweb', new EgressContributorRegistry())).toBeUndefined();
  });

  it('lays ingest coercion under the index layers: the registry wins over a rule, removals stay removed', async () => {
    const plan = await egressPlan(
      row({
        instanceOverlay: { '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^John' }] }, '00080020': { vr: 'DA', Value: ['19930430'] }, '00081030': null },
        patientOverlay: { '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Registry^Name' }] } },
      }),
      'dicomweb',
      undefined,
    );
    expect(plan!.replace.map((e) => [e.tag.toString(16), e.value])).toEqual([
      ['80020', ['19930430']],
      ['100010', ['Registry^Name']],
    ]);
    expect(plan!.options.remove).toEqual([0x00081030]);
  });

  it("takes contributors' elements, removals and the destination's character set", async () => {
    const contributors = new EgressContributorRegistry();
    contributors.register((_i, destination) =>
      destination === 'OLDPACS' ? { replace: [{ tag: 0x00081030, vr: 'LO', value: ['Thorax'] }], remove: [0x00080080], charset: { target: ['ISO_IR 100'], force: true } } : undefined,
    );
    const instance = row({ instanceOverlay: { '00081030': null } });
    const plan = await egressPlan(instance, 'OLDPACS', contributors);
    expect(plan!.replace.map((e) => e.tag)).toEqual([0x00081030]);
    expect(plan!.options).toEqual({ remove: [0x00080080], target: ['ISO_IR 100'], forceTarget: true });
    const forced = new EgressContributorRegistry();
    forced.register(() => ({ charset: { target: ['ISO_IR 100'], force: true } }));
    expect(await egressPlan(row({}), 'OLDPACS', forced)).toEqual({ replace: [], options: { remove: [], target: ['ISO_IR 100'], forceTarget: true } });
  });
});
