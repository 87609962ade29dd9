import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** One figure: every run's value, their median, unit and a note (the peer's results.tsv shape). */
export interface Figure {
  readonly section: string;
  readonly metric: string;
  readonly values: number[];
  readonly median: number;
  readonly unit: string;
  readonly note: string;
}

export function median(values: readonly number[]): number {
  const s = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export class Results {
  readonly figures: Figure[] = [];

  add(section: string, metric: string, values: number | readonly number[], unit: string, note = ''): Figure {
    const list = typeof values === 'number' ? [values] : [...values];
    const figure = { section, metric, values: list, median: median(list), unit, note };
    const at = this.figures.findIndex((f) => f.section === section && f.metric === metric);
    if (at >= 0) this.figures[at] = figure;
    else this.figures.push(figure);
    return figure;
  }

  get(section: string, metric: string): Figure | undefined {
    return this.figures.find((f) => f.section === section && f.metric === metric);
  }

  value(section: string, metric: string): number {
    return this.get(section, metric)?.median ?? NaN;
  }

  writeTsv(path: string): void {
    const rows = ['section\tindex\tmetric\truns\tmedian\tunit\tnote'];
    for (const f of this.figures) rows.push([f.section, 'vna', f.metric, f.values.map((v) => round(v)).join(','), round(f.median), f.unit, f.note].join('\t'));
    writeFileSync(path, `${rows.join('\n')}\n`);
  }
}

function round(v: number): string {
  if (!Number.isFinite(v)) return '';
  if (Math.abs(v) >= 100) return v.toFixed(1);
  if (Math.abs(v) >= 1) return v.toFixed(3);
  return v.toFixed(6);
}

/** A fixed-width text table. */
export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function fmt(v: number, digits?: number): string {
  if (!Number.isFinite(v)) return '-';
  if (digits !== undefined) return v.toFixed(digits);
  if (Math.abs(v) >= 100) return v.toFixed(1);
  if (Math.abs(v) >= 10) return v.toFixed(2);
  if (Math.abs(v) >= 0.1) return v.toFixed(3);
  return v.toFixed(4);
}

export const MB = 1e6;
export const MiB = 1024 * 1024;

// ---------------------------------------------------------------- the peer

/** Orthanc's figures from bench_orthanc.sh's results.tsv (section index metric r1 r2 r3 median unit note); the last row of a metric wins. */
export class PeerResults {
  private readonly rows = new Map<string, { median: number; note: string }>();

  constructor(readonly path: string) {
    for (const line of readFileSync(path, 'utf8').split('\n').slice(1)) {
      const c = line.split('\t');
      if (c.length < 8) continue;
      this.rows.set(`${c[0]}|${c[1]}|${c[2]}`, { median: Number(c[6]), note: c[8] ?? '' });
    }
  }

  static load(path: string): PeerResults | undefined {
    return existsSync(path) ? new PeerResults(path) : undefined;
  }

  get(section: string, index: string, metric: string): number {
    return this.rows.get(`${section}|${index}|${metric}`)?.median ?? NaN;
  }
}

export interface Comparison {
  readonly figure: string;
  readonly archive: number;
  readonly orthancPg: number;
  readonly orthancSqlite: number;
  readonly unit: string;
  /** archive/peer for rates, peer/archive for times: > 1 means the archive is better. */
  readonly ratio: number;
  readonly target?: number;
}

/** The targets: ingest >= 2x Orthanc (PostgreSQL index) at 1 and 4 associations; QIDO name prefix and all-studies >= 5x faster; metadata >= 4x faster. */
export function compare(results: Results, peer: PeerResults, studies: number, parallel: number): Comparison[] {
  const out: Comparison[] = [];
  const rate = (figure: string, ours: number, metric: string, unit: string, target?: number): void => {
    const pg = peer.get('ingest', 'pg', metric);
    out.push({ figure, archive: ours, orthancPg: pg, orthancSqlite: peer.get('ingest', 'sqlite', metric), unit, ratio: ours / pg, target });
  };
  const time = (figure: string, ours: number, section: string, metric: string, target?: number): void => {
    const pg = peer.get(section, 'pg', metric);
    out.push({ figure, archive: ours, orthancPg: pg, orthancSqlite: peer.get(section, 'sqlite', metric), unit: 's', ratio: pg / ours, target });
  };
  rate('ingest, 1 association', results.value('ingest', 'cstore_1assoc_inst_per_s'), 'cstore_1assoc_inst_per_s', 'inst/s', 2);
  rate(`ingest, ${parallel} associations`, results.value('ingest', `cstore_${parallel}assoc_inst_per_s`), `cstore_${parallel}assoc_inst_per_s`, 'inst/s', 2);
  const q = (name: string): number => results.value('qido', `qido_${name}_at_${studies}_studies_s`);
  const qp = (name: string): string => `qido_${name}_at_${studies}_studies_s`;
  time(`QIDO PatientName=SMITH* (${studies} studies)`, q('name_prefix'), 'qido', qp('name_prefix'), 5);
  const all = results.get('qido', `qido_all_complete_at_${studies}_studies_s`) ?? results.get('qido', qp('all'));
  time(`QIDO all studies (${studies} studies)`, all?.median ?? NaN, 'qido', qp('all'), 5);
  time(`QIDO StudyDate one year (${studies} studies)`, q('date_range_1y'), 'qido', qp('date_range_1y'));
  time(`QIDO PatientID exact (${studies} studies)`, q('pid_exact'), 'qido', qp('pid_exact'));
  time(`QIDO AccessionNumber (${studies} studies)`, q('accession'), 'qido', qp('accession'));
  time(`QIDO limit=100 (${studies} studies)`, q('all_limit100'), 'qido', qp('all_limit100'));
  time('WADO-RS study metadata', results.value('wado', 'wado_rs_study_metadata_s'), 'wado', 'wado_rs_study_metadata_s', 4);
  time('WADO-RS study retrieve', results.value('wado', 'wado_rs_study_s'), 'wado', 'wado_rs_study_s');
  return out;
}

export function formatComparison(rows: Comparison[], peerPath: string): string {
  const body = rows.map((r) => [
    r.figure,
    `${fmt(r.archive)} ${r.unit}`,
    `${fmt(r.orthancPg)} ${r.unit}`,
    `${fmt(r.orthancSqlite)} ${r.unit}`,
    Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}x` : '-',
    r.target ? `>= ${r.target}x` : '',
    r.target ? (Number.isFinite(r.ratio) ? (r.ratio >= r.target ? 'met' : 'MISSED') : '?') : '',
  ]);
  return [
    `Orthanc figures: ${peerPath}`,
    'ratio: archive rate / Orthanc rate for ingest; Orthanc time / archive time for queries and retrieves (> 1: the archive is better)',
    table(['figure', 'archive', 'Orthanc PG', 'Orthanc SQLite', 'ratio vs PG', 'target', ''], body),
  ].join('\n');
}
