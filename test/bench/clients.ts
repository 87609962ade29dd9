import { spawn } from 'node:child_process';
import { dcmtk } from '../support/dcmtk.js';

/**
 * The clients that measure the archive: dcmtk's storescu (TCP_NODELAY=1, as for the peer) and
 * curl, the same tools ../shared/peers/bench_orthanc.sh measures Orthanc with.
 */

export const CALLING_AET = 'BENCHSCU';

export interface StoreRun {
  readonly seconds: number;
  readonly failures: string[];
}

function storeArgs(aet: string, port: number): string[] {
  return ['-q', '-aet', CALLING_AET, '-aec', aet, '127.0.0.1', String(port)];
}

/** One association: storescu over a directory tree (`+sd +r +sp '*.dcm'`), like the peer's store1. */
export async function storeDirectory(aet: string, port: number, dir: string, timeoutMs: number): Promise<StoreRun> {
  const started = performance.now();
  const r = await dcmtk('storescu', [...storeArgs(aet, port), '+sd', '+r', '+sp', '*.dcm', dir], { timeoutMs });
  const seconds = (performance.now() - started) / 1000;
  return { seconds, failures: r.code === 0 ? [] : [`storescu exit ${r.code}: ${r.stderr.slice(-2000)}`] };
}

/**
 * `parallel` associations at once: the file list split round-robin (`split -n r/N`), one storescu
 * per part with its files on the command line, like the peer's storeN.
 */
export async function storeParallel(aet: string, port: number, files: readonly string[], parallel: number, timeoutMs: number): Promise<StoreRun> {
  const parts: string[][] = Array.from({ length: parallel }, () => []);
  files.forEach((f, i) => parts[i % parallel]!.push(f));
  const started = performance.now();
  const results = await Promise.all(parts.filter((p) => p.length > 0).map((p) => dcmtk('storescu', [...storeArgs(aet, port), ...p], { timeoutMs })));
  const seconds = (performance.now() - started) / 1000;
  return { seconds, failures: results.filter((r) => r.code !== 0).map((r) => `storescu exit ${r.code}: ${r.stderr.slice(-2000)}`) };
}

export interface CurlResult {
  readonly seconds: number;
  /** Time to the first byte of the body (curl's time_starttransfer). */
  readonly firstByte: number;
  readonly bytes: number;
  readonly status: number;
}

/** One GET with curl, body discarded after it is read whole (`-o /dev/null`); curl's own time_total. */
export function curl(url: string, accept: string, apiKey: string): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'curl',
      ['-s', '-o', '/dev/null', '-w', '%{time_total} %{size_download} %{http_code} %{time_starttransfer}', '-H', `Accept: ${accept}`, '-H', `Authorization: Bearer ${apiKey}`, url],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const [t, b, s, f] = out.trim().split(' ');
      if (code !== 0 || t === undefined) return reject(new Error(`curl ${url} failed (exit ${code}): ${out}`));
      resolve({ seconds: Number(t), bytes: Number(b), status: Number(s), firstByte: Number(f) });
    });
  });
}

/** The mean of `reps` curl requests (the peer's lat_curl); fails on a status other than 200/204. */
export async function meanLatency(url: string, accept: string, apiKey: string, reps: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < reps; i++) {
    const r = await curl(url, accept, apiKey);
    if (r.status !== 200 && r.status !== 204) throw new Error(`HTTP ${r.status} for ${url}`);
    total += r.seconds;
  }
  return total / reps;
}

export async function toolVersion(tool: string, args: string[]): Promise<string> {
  try {
    const r = await dcmtk(tool, args, { timeoutMs: 10_000 });
    return (r.stdout + r.stderr).split('\n').find((l) => l.trim())?.trim() ?? '';
  } catch {
    return 'not found';
  }
}
