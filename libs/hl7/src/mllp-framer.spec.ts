import { describe, expect, it } from '@jest/globals';
import { type MllpEvent, MllpFramer, mllpFrame } from './mllp-framer.js';

const frame = (s: string): Buffer => mllpFrame(Buffer.from(s, 'latin1'));
const payloads = (events: MllpEvent[]): string[] => events.flatMap((e) => (e.kind === 'frame' ? [e.payload.toString('latin1')] : []));

describe('MllpFramer', () => {
  it('splits frames, whole or across reads, several per read', () => {
    const f = new MllpFramer(1024);
    const bytes = Buffer.concat([frame('MSH|one'), frame('MSH|two'), frame('MSH|three')]);
    expect(payloads(f.push(bytes))).toEqual(['MSH|one', 'MSH|two', 'MSH|three']);
    const events: MllpEvent[] = [];
    for (let i = 0; i < bytes.length; i++) events.push(...f.push(bytes.subarray(i, i + 1)));
    expect(events).toEqual(payloads(events).map((p) => ({ kind: 'frame', payload: Buffer.from(p, 'latin1') })));
    expect(payloads(events)).toEqual(['MSH|one', 'MSH|two', 'MSH|three']);
  });

  it('forgives a missing CR after FS and ignores CR/LF between frames', () => {
    const f = new MllpFramer(1024);
    const events = f.push(Buffer.from('\x0bMSH|a\x1c\x0bMSH|b\x1c\r\r\n\x0bMSH|c\x1c\r', 'latin1'));
    expect(events).toEqual([
      { kind: 'frame', payload: Buffer.from('MSH|a') },
      { kind: 'frame', payload: Buffer.from('MSH|b') },
      { kind: 'frame', payload: Buffer.from('MSH|c') },
    ]);
  });

  it('discards bytes before a VT and reports them when the next frame starts', () => {
    const f = new MllpFramer(1024);
    expect(f.push(Buffer.from('garbage'))).toEqual([]);
    expect(f.push(Buffer.from('\x00\xff', 'latin1'))).toEqual([]);
    expect(f.push(frame('MSH|x'))).toEqual([
      { kind: 'discarded', reason: 'outside-frame', bytes: 9 },
      { kind: 'frame', payload: Buffer.from('MSH|x') },
    ]);
    expect(f.push(Buffer.from('tail'))).toEqual([]);
    expect(f.takeGarbage()).toEqual({ kind: 'discarded', reason: 'outside-frame', bytes: 4 });
  });

  it('drops a frame that a new VT interrupts (cut in half, FS missing) and keeps the next', () => {
    const f = new MllpFramer(1024);
    expect(f.push(Buffer.from('\x0bMSH|half of a mess'))).toEqual([]);
    expect(f.inFrame).toBe(true);
    expect(f.push(frame('MSH|whole'))).toEqual([
      { kind: 'discarded', reason: 'unterminated', bytes: 18 },
      { kind: 'frame', payload: Buffer.from('MSH|whole') },
    ]);
    expect(f.inFrame).toBe(false);
  });

  it('abandons an open frame on request (timeout, end of connection)', () => {
    const f = new MllpFramer(1024);
    f.push(Buffer.from('\x0bMSH|slow'));
    expect(f.abandon('timeout')).toEqual({ kind: 'discarded', reason: 'timeout', bytes: 8 });
    expect(f.abandon('timeout')).toBeUndefined();
    expect(payloads(f.push(frame('MSH|next')))).toEqual(['MSH|next']);
  });

  it('stops at a frame over the limit, keeping its head for the AR', () => {
    const f = new MllpFramer(100);
    const big = `MSH|^~\\&|A|B|||20240101||ADT^A08|BIG1|P|2.5.1\r${'X'.repeat(200)}`;
    const events = f.push(Buffer.concat([Buffer.from([0x0b]), Buffer.from(big.slice(0, 60))]));
    expect(events).toEqual([]);
    const more = f.push(Buffer.from(big.slice(60)));
    expect(more).toHaveLength(1);
    expect(more[0]).toMatchObject({ kind: 'oversized' });
    expect((more[0] as { head: Buffer }).head.toString().startsWith('MSH|^~\\&|A|B')).toBe(true);
    expect(f.push(frame('MSH|after'))).toEqual([]);
  });

  it('takes a frame of exactly the limit', () => {
    const f = new MllpFramer(10);
    expect(payloads(f.push(frame('0123456789')))).toEqual(['0123456789']);
  });
});
