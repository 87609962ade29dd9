import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { readAhead } from './read-ahead.js';

/** An open that resolves when told to, recording how many were in flight at once. */
function opener() {
  const pending: { item: number; resolve: (r: Readable) => void; reject: (e: Error) => void }[] = [];
  const streams = new Map<number, Readable>();
  let inFlight = 0;
  let maxInFlight = 0;
  const open = (item: number): Promise<Readable> => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return new Promise((resolve, reject) => pending.push({ item, resolve: (r) => (inFlight--, resolve(r)), reject: (e) => (inFlight--, reject(e)) }));
  };
  const settleAll = (fail?: number): void => {
    for (const p of pending.splice(0)) {
      if (p.item === fail) p.reject(new Error(`open ${p.item} failed`));
      else {
        const s = Readable.from([`body ${p.item}`]);
        streams.set(p.item, s);
        p.resolve(s);
      }
    }
  };
  return { open, settleAll, streams, pending, max: () => maxInFlight };
}

describe('readAhead', () => {
  it('yields every body in order, opening at most depth at once, the first one given', async () => {
    const o = opener();
    const first = Readable.from(['first']);
    const items = [0, 1, 2, 3, 4, 5, 6];
    const seen: number[] = [];
    const gen = readAhead(items, o.open, 3, first);
    const timer = setInterval(() => o.settleAll(), 1);
    try {
      for await (const { item, body } of gen) {
        seen.push(item);
        if (item === 0) expect(body).toBe(first);
        else expect(body).toBe(o.streams.get(item));
      }
    } finally {
      clearInterval(timer);
    }
    expect(seen).toEqual(items);
    // Opened ahead (more than one at a time), never more than `depth`.
    expect(o.max()).toBeGreaterThan(1);
    expect(o.max()).toBeLessThanOrEqual(3);
  });

  it('destroys what it opened ahead when the consumer stops early', async () => {
    const o = opener();
    const gen = readAhead([0, 1, 2, 3], o.open, 3);
    const firstPart = gen.next();
    o.settleAll();
    expect((await firstPart).value?.item).toBe(0);
    o.settleAll();
    await gen.return(undefined);
    await new Promise((r) => setImmediate(r));
    expect(o.streams.get(1)?.destroyed).toBe(true);
    expect(o.streams.get(2)?.destroyed).toBe(true);
  });

  it('passes an open that failed on to the consumer in its turn', async () => {
    const o = opener();
    const seen: number[] = [];
    const run = (async () => {
      for await (const { item } of readAhead([0, 1, 2], o.open, 4)) seen.push(item);
    })();
    o.settleAll(1);
    await expect(run).rejects.toThrow('open 1 failed');
    expect(seen).toEqual([0]);
  });
});
