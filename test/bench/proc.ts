import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * What Linux tells about processes (/proc): resident memory and its peak, CPU time, and the whole
 * machine's CPU use, so that each phase says how much memory the archive took and where the two
 * cores went (archive, PostgreSQL, Azurite, the rest).
 */

const CLOCK_TICKS = 100; // USER_HZ on Linux (sysconf(_SC_CLK_TCK)); the same on every mainstream architecture

export interface MemoryStatus {
  /** Peak resident set since start or the last reset (VmHWM), bytes. */
  readonly peakRss: number;
  /** Resident set now (VmRSS), bytes. */
  readonly rss: number;
}

/** A process and its descendants (the archive's worker processes, VNA_WORKERS > 1). */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [child, parent] of parents) if (parent === out[i]) out.push(child);
  return out;
}

/** Memory of a process and its descendants together (a sum of peaks: an upper bound of the group's peak). */
export function memoryStatus(pid: number): MemoryStatus {
  let peakRss = 0;
  let rss = 0;
  for (const p of processTree(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
      peakRss += kb('VmHWM');
      rss += kb('VmRSS');
    } catch {
      // gone meanwhile
    }
  }
  return { peakRss, rss };
}

/** Resets the peak RSS (VmHWM) of a process and its descendants (proc(5), clear_refs "5"). */
export function resetPeakRss(pid: number): boolean {
  try {
    for (const p of processTree(pid)) writeFileSync(`/proc/${p}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** User + system CPU seconds of a process and its descendants, or 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + ownCpuSeconds(p), 0);
}

/** User + system CPU seconds of this one process. */
export function ownCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** CPU seconds of the children a process has waited for (cutime + cstime): the clients it ran. */
export function reapedChildrenCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** CPU seconds of every process whose command name is `comm` (PostgreSQL backends, say), by pid. */
export function cpuByCommand(comm: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() !== comm) continue;
    } catch {
      continue;
    }
    out.set(Number(name), cpuSeconds(Number(name)));
  }
  return out;
}

/** Machine-wide jiffies: busy and total, summed over all CPUs (/proc/stat). */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / CLOCK_TICKS, total: total / CLOCK_TICKS };
}

/** CPU seconds spent by the archive, PostgreSQL, Azurite and the whole machine over one phase. */
export interface CpuUse {
  readonly archive: number;
  readonly postgres: number;
  readonly azurite: number;
  /** The clients (storescu, curl) and the benchmark process itself. */
  readonly clients: number;
  /** Busy CPU not accounted for by the above: kernel work for them (softirq, writeback) and other processes on the machine. */
  readonly other: number;
  /** Busy CPU seconds of the whole machine (all processes, kernel included). */
  readonly machineBusy: number;
  /** CPU seconds available over the phase (wall time x cores). */
  readonly machineTotal: number;
}

export class CpuMeter {
  private readonly archive0: number;
  private readonly azurite0: number;
  private readonly postgres0: Map<number, number>;
  private readonly machine0: { busy: number; total: number };
  private readonly clients0: number;

  /**
   * `postgresPids`: only these PostgreSQL processes count (the archive's own backends and the WAL
   * writer, say), so that other work on a shared server does not show as the archive's; without
   * it, every postgres process on the machine counts.
   */
  constructor(
    private readonly archivePid: number,
    private readonly azuritePid: number | undefined,
    private readonly postgresPids?: readonly number[],
  ) {
    this.archive0 = cpuSeconds(archivePid);
    this.azurite0 = azuritePid ? cpuSeconds(azuritePid) : 0;
    this.postgres0 = cpuByCommand('postgres');
    this.machine0 = machineCpu();
    this.clients0 = reapedChildrenCpuSeconds(process.pid) + ownCpuSeconds(process.pid);
  }

  /** `postgresPids`: the archive's PostgreSQL processes now (added to those given at the start, when given). */
  read(postgresPids?: readonly number[]): CpuUse {
    const counted = this.postgresPids ? new Set([...this.postgresPids, ...(postgresPids ?? [])]) : undefined;
    let postgres = 0;
    for (const [pid, s] of cpuByCommand('postgres')) if (!counted || counted.has(pid)) postgres += s - (this.postgres0.get(pid) ?? 0);
    const machine = machineCpu();
    const archive = cpuSeconds(this.archivePid) - this.archive0;
    const azurite = this.azuritePid ? cpuSeconds(this.azuritePid) - this.azurite0 : 0;
    const clients = reapedChildrenCpuSeconds(process.pid) + ownCpuSeconds(process.pid) - this.clients0;
    const machineBusy = machine.busy - this.machine0.busy;
    return {
      archive,
      postgres,
      azurite,
      clients,
      other: Math.max(0, machineBusy - archive - postgres - azurite - clients),
      machineBusy,
      machineTotal: machine.total - this.machine0.total,
    };
  }
}

/**
 * Samples a process's RSS every `intervalMs` (a second witness beside VmHWM, which needs
 * clear_refs to be reset between phases).
 */
export class RssSampler {
  private max = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 50,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    try {
      this.max = Math.max(this.max, memoryStatus(this.pid).rss);
    } catch {
      // the process is gone
    }
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.max;
  }
}

/** Peak RSS over a phase: resets VmHWM, samples meanwhile, and reports the larger witness. */
export class PeakMemory {
  private readonly sampler: RssSampler;
  readonly startRss: number;
  private readonly reset: boolean;

  constructor(private readonly pid: number) {
    this.reset = resetPeakRss(pid);
    this.startRss = memoryStatus(pid).rss;
    this.sampler = new RssSampler(pid);
  }

  stop(): { peakRss: number; startRss: number; endRss: number; source: string } {
    const sampled = this.sampler.stop();
    const status = memoryStatus(this.pid);
    const peak = this.reset ? Math.max(status.peakRss, sampled) : sampled;
    return { peakRss: peak, startRss: this.startRss, endRss: status.rss, source: this.reset ? 'VmHWM' : 'sampled' };
  }
}

/** The busiest processes right now (over `ms`), to name whatever else loads the machine. */
export async function busiestProcesses(ms: number, top = 5): Promise<{ busyPct: number; processes: string[] }> {
  const snapshot = (): Map<number, number> => {
    const m = new Map<number, number>();
    for (const name of readdirSync('/proc')) if (/^\d+$/.test(name)) m.set(Number(name), cpuSeconds(Number(name)));
    return m;
  };
  const m0 = machineCpu();
  const a = snapshot();
  await new Promise((r) => setTimeout(r, ms));
  const b = snapshot();
  const m1 = machineCpu();
  const rows: [number, number][] = [];
  for (const [pid, s] of b) rows.push([pid, s - (a.get(pid) ?? 0)]);
  rows.sort((x, y) => y[1] - x[1]);
  const cmd = (pid: number): string => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim().slice(0, 120);
    } catch {
      return '?';
    }
  };
  return {
    busyPct: (100 * (m1.busy - m0.busy)) / Math.max(0.001, m1.total - m0.total),
    processes: rows.filter(([, s]) => s > 0.05).slice(0, top).map(([pid, s]) => `${pid} ${((100 * s) / (ms / 1000)).toFixed(0)}% ${cmd(pid)}`),
  };
}
