import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { type Pausable, pauseWhileBehind } from './backpressure.js';

class Source implements Pausable {
  paused = false;
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  isPaused(): boolean {
    return this.paused;
  }
}

/** A writer that completes each write only when told to: a disk that is behind. */
function slowWriter(): { writer: Writable; flush: () => void } {
  const pending: (() => void)[] = [];
  const writer = new Writable({
    highWaterMark: 4,
    write(_chunk, _encoding, done) {
      pending.push(done);
    },
  });
  return { writer, flush: () => pending.splice(0).forEach((done) => done()) };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('pauseWhileBehind', () => {
  it('pauses the source when the writer is behind and resumes it on drain', async () => {
    const source = new Source();
    const { writer, flush } = slowWriter();
    pauseWhileBehind(source, writer);
    expect(writer.write(Buffer.alloc(8))).toBe(false);
    expect(source.paused).toBe(true);
    flush();
    await tick();
    expect(source.paused).toBe(false);
  });

  it('resumes the source when the writer ends while behind (no drain comes then)', async () => {
    const source = new Source();
    const { writer, flush } = slowWriter();
    pauseWhileBehind(source, writer);
    writer.write(Buffer.alloc(8));
    writer.end();
    expect(source.paused).toBe(true);
    flush();
    await tick();
    await tick();
    expect(source.paused).toBe(false);
  });

  it('resumes the source when the writer is destroyed', async () => {
    const source = new Source();
    const { writer } = slowWriter();
    pauseWhileBehind(source, writer);
    writer.write(Buffer.alloc(8));
    writer.destroy();
    await tick();
    expect(source.paused).toBe(false);
  });
});
