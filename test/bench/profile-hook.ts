/**
 * Loaded into the archive only when the benchmark profiles it (`--profile`), through
 * NODE_OPTIONS=--import: samples the archive's CPU with the inspector's profiler from start-up,
 * and on each SIGWINCH (a signal Nest's shutdown hooks leave alone, unlike SIGUSR2; ignored by
 * default, so harmless without the hook) writes what it sampled since the previous one to
 * $VNA_BENCH_PROFILE_DIR/<label>.cpuprofile (the label is read from the file `label` there; "-"
 * discards), then starts over. So each benchmark phase gets a profile of its own, without
 * stopping the process (`--cpu-prof` writes only at exit, and Nest exits on SIGTERM by re-raising it).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

const dir = process.env['VNA_BENCH_PROFILE_DIR'];
if (dir) {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: Number(process.env['VNA_BENCH_PROFILE_INTERVAL_US'] ?? 500) });
  await session.post('Profiler.start');
  let busy = false;
  process.on('SIGWINCH', () => {
    if (busy) return;
    busy = true;
    void (async () => {
      try {
        const label = readFileSync(join(dir, 'label'), 'utf8').trim();
        const { profile } = await session.post('Profiler.stop');
        await session.post('Profiler.start');
        if (label && label !== '-') {
          const path = join(dir, `${label}.cpuprofile`);
          writeFileSync(`${path}.tmp`, JSON.stringify(profile));
          renameSync(`${path}.tmp`, path);
        } else {
          writeFileSync(join(dir, 'discarded'), String(Date.now()));
        }
      } catch (e) {
        process.stderr.write(`profile hook: ${(e as Error).message}\n`);
      } finally {
        busy = false;
      }
    })();
  });
}
