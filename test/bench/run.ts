/**
 * `npm run bench`: the archive's throughput, latency and memory figures (issue 2, "Benchmark"),
 * measured with the same clients and workload as the Orthanc peer (../shared/peers), and compared
 * with Orthanc's figures. Prints tables and writes results.tsv / results.json; never asserts times.
 * See test/bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchArchive } from './bench-archive.js';
import { BenchEnv } from './bench-env.js';
import { curl, meanLatency, storeDirectory, storeParallel, toolVersion } from './clients.js';
import { type GeneratedSet, generateCtStudy, generateIndexStudies, generateMultiFrame, generatePatientStudies } from './generate.js';
import { a08Run, admitPatients, adt, percentile, timeMerge } from './hl7-bench.js';
import { readableAfter, searchLatencies } from './fhir-bench.js';
import { TestEhr } from '../support/fhir-ehr.js';
import { lifecycleJobs, seedIndex } from './lifecycle-bench.js';
import { MllpClient } from '../support/mllp.js';
import { dcmtk, dcmtkDaemon } from '../support/dcmtk.js';
import { freePort } from '../support/test-env.js';
import { type BenchOptions, parseOptions } from './options.js';
import { busiestProcesses, CpuMeter, type CpuUse, PeakMemory } from './proc.js';
import { formatProfile, summarizeProfile } from './profile-report.js';
import { compare, type Comparison, fmt, formatComparison, MB, median, PeerResults, Results, table } from './report.js';

const DICOM_MULTIPART = 'multipart/related; type="application/dicom"';
const DICOM_JSON = 'application/dicom+json';
const STORE_TIMEOUT_MS = 15 * 60_000;

function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

function sync(): void {
  // Flush dirty pages (generated data, the previous archive's blob writes) so they do not land in the next measurement.
  execFileSync('sync');
}

class Bench {
  readonly results = new Results();
  readonly notes: string[] = [];
  readonly profiles: { label: string; path: string; summary: string }[] = [];
  private readonly live = new Set<BenchArchive>();
  private ct?: GeneratedSet;
  private indexSets: { set: GeneratedSet; total: number }[] = [];
  private multiFrame?: { path: string; studyUid: string; bytes: number };
  private mergeSet?: GeneratedSet;
  private fhirIndex?: GeneratedSet;
  private fhirSamples?: GeneratedSet;

  constructor(
    readonly o: BenchOptions,
    readonly env: BenchEnv,
  ) {}

  // ------------------------------------------------------------ plumbing

  /**
   * Waits (up to a minute) until the machine is quiet, so another process's work (a test run on a
   * shared machine, the previous archive's writeback) does not land in the next measurement; notes it when not.
   */
  private async waitQuiet(what: string): Promise<void> {
    let last = { busyPct: 0, processes: [] as string[] };
    for (let i = 0; i < 60; i++) {
      last = await busiestProcesses(1000);
      if (last.busyPct < 20) return;
      if (i === 0) log(`machine ${last.busyPct.toFixed(0)}% busy before ${what}; waiting for it to calm down: ${last.processes.join('; ')}`);
    }
    this.note(`machine still ${last.busyPct.toFixed(0)}% busy before ${what} after a minute: ${last.processes.join('; ')}`);
  }

  private async startArchive(label: string, env?: Record<string, string>): Promise<BenchArchive> {
    await this.waitQuiet(label);
    const a = await BenchArchive.start(this.env, label, {
      env,
      qidoMaxResults: Math.max(10_000, this.o.studies),
      profileDir: this.o.profile ? join(this.o.resultsDir, 'profiles') : undefined,
    });
    this.live.add(a);
    // Let start-up work (outbox relay, spool housekeeping) settle before measuring.
    await sleep(500);
    return a;
  }

  private async stopArchive(a: BenchArchive): Promise<void> {
    this.live.delete(a);
    await a.destroy();
  }

  async destroyAll(): Promise<void> {
    for (const a of [...this.live]) await this.stopArchive(a).catch(() => undefined);
  }

  private async profile(a: BenchArchive, label: string): Promise<void> {
    const path = await a.profileMark(label);
    if (!path) return;
    const summary = formatProfile(label, summarizeProfile(path));
    writeFileSync(path.replace(/\.cpuprofile$/, '.txt'), summary);
    this.profiles.push({ label, path, summary });
  }

  private note(line: string): void {
    this.notes.push(line);
    log(`NOTE: ${line}`);
  }

  // ------------------------------------------------------------ data

  generate(): void {
    const dataDir = join(this.env.workDir, 'data');
    const t0 = performance.now();
    if (this.o.phases.has('ingest') || this.o.phases.has('wado') || this.o.phases.has('coercion')) {
      this.ct = generateCtStudy(join(dataDir, 'ct1k'), this.o.instances);
      log(`generated ${this.ct.files.length} CT instances, ${(this.ct.bytes / MB).toFixed(1)} MB (${(this.ct.bytes / this.ct.files.length / 1000).toFixed(1)} KB each)`);
    }
    if (this.o.phases.has('qido')) {
      // Three stages like the peer: 1 (QA), 99 (QB), the rest (QC); each stage's patient IDs and
      // accession numbers restart, so PatientID=QA000001 is unique and AccessionNumber=A00000001 recurs.
      let total = 0;
      for (const [name, count, prefix] of [['q1', 1, 'QA'], ['q99', 99, 'QB'], [`q${this.o.studies - 100}`, this.o.studies - 100, 'QC']] as const) {
        const set = generateIndexStudies(join(dataDir, name), count, prefix);
        total += count;
        this.indexSets.push({ set, total });
      }
      log(`generated ${total} one-instance studies (128x128 CT, ~39 KB each)`);
    }
    if (this.o.phases.has('hl7')) {
      this.mergeSet = generatePatientStudies(join(dataDir, 'merge'), Math.ceil(this.o.mergeInstances / 100), 100, 'MERGEPRIOR');
      log(`generated ${this.mergeSet.files.length} instances of one patient (64x64 CT) for the merge`);
    }
    if (this.o.phases.has('fhir')) {
      this.fhirSamples = generateIndexStudies(join(dataDir, 'fhir-publish'), this.o.fhirSamples, 'FP');
      this.fhirIndex = generateIndexStudies(join(dataDir, 'fhir-index'), this.o.studies, 'FH');
      log(`generated ${this.o.fhirSamples} studies to publish and ${this.o.studies} to search over FHIR`);
    }
    log(`generation took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  private async generateMultiFrame(): Promise<{ path: string; studyUid: string; bytes: number }> {
    if (!this.multiFrame) {
      const t0 = performance.now();
      this.multiFrame = await generateMultiFrame(join(this.env.workDir, 'data', 'multiframe.dcm'), this.o.frames);
      log(`generated a ${this.o.frames}-frame object, ${(this.multiFrame.bytes / MB).toFixed(1)} MB, in ${((performance.now() - t0) / 1000).toFixed(1)} s (streamed to disk)`);
    }
    return this.multiFrame;
  }

  /** Reads every file once, so the sender works from the page cache (the peer does the same). */
  private warm(files: readonly string[]): void {
    for (const f of files) readFileSync(f);
  }

  // ------------------------------------------------------------ (a) ingest and (c) WADO-RS

  async ingest(): Promise<void> {
    const ct = this.ct!;
    const n = ct.files.length;
    const mb = ct.bytes / MB;
    // WADO-RS alone (--phases wado) needs one ingest to retrieve from, not the whole series of runs.
    const only = !this.o.phases.has('ingest');
    const runsPerMode = only ? 1 : this.o.runs;
    for (const mode of only ? [1] : [1, this.o.parallel]) {
      const seconds: number[] = [];
      const peaks: number[] = [];
      const cpu: CpuUse[] = [];
      const indexMs: number[] = [];
      const pendingUploads: number[] = [];
      for (let r = 1; r <= runsPerMode; r++) {
        this.warm(ct.files);
        sync();
        const a = await this.startArchive(`ingest${mode}r${r}`);
        try {
          await a.profileMark('-');
          const memory = new PeakMemory(a.pid);
          const meter = new CpuMeter(a.pid, this.env.azuritePid);
          const run = mode === 1 ? await storeDirectory(a.aet, a.dicomPort, ct.dir, STORE_TIMEOUT_MS) : await storeParallel(a.aet, a.dicomPort, ct.files, mode, STORE_TIMEOUT_MS);
          const ackedAt = performance.now();
          const use = meter.read();
          const mem = memory.stop();
          if (r === runsPerMode) await this.profile(a, `ingest-${mode}assoc`);
          const counts = await a.counts();
          if (run.failures.length) this.note(`ingest ${mode} assoc run ${r}: ${run.failures.join(' | ')}`);
          if (counts.instances !== n) this.note(`ingest ${mode} assoc run ${r}: ${counts.instances} of ${n} instances indexed`);
          const h = await a.histogram('vna_ingest_duration_seconds');
          seconds.push(run.seconds);
          peaks.push(mem.peakRss);
          cpu.push(use);
          indexMs.push(h.count ? (1000 * h.sum) / h.count : NaN);
          pendingUploads.push(counts.spooled);
          log(
            `ingest ${mode} assoc run ${r}/${runsPerMode}: ${run.seconds.toFixed(2)} s, ${(n / run.seconds).toFixed(1)} inst/s, ${(mb / run.seconds).toFixed(1)} MB/s, peak RSS ${(mem.peakRss / MB).toFixed(0)} MB, ` +
              `CPU s archive ${use.archive.toFixed(1)} postgres ${use.postgres.toFixed(1)} azurite ${use.azurite.toFixed(1)} clients ${use.clients.toFixed(1)} other ${use.other.toFixed(1)}, machine ${use.machineBusy.toFixed(1)} of ${use.machineTotal.toFixed(1)}; ${counts.spooled} uploads pending`,
          );
          if (mode === 1 && r === runsPerMode && this.o.phases.has('wado')) await this.wado(a, ct, ackedAt);
        } finally {
          await this.stopArchive(a);
        }
      }
      const tag = `cstore_${mode}assoc`;
      const m = median(seconds);
      const res = this.results;
      res.add('ingest', `${tag}_s`, seconds, 's', `storescu TCP_NODELAY=1, ${n} inst, ${ct.bytes} B, fresh archive per run`);
      res.add('ingest', `${tag}_inst_per_s`, n / m, 'inst/s');
      res.add('ingest', `${tag}_MBps`, mb / m, 'MB/s');
      res.add('ingest', `${tag}_peak_rss_MB`, peaks.map((p) => p / MB), 'MB', 'archive process VmHWM over the transfer (reset by clear_refs)');
      res.add('ingest', `${tag}_cpu_archive_s`, cpu.map((c) => c.archive), 's', 'archive process user+system CPU during the transfer');
      res.add('ingest', `${tag}_cpu_postgres_s`, cpu.map((c) => c.postgres), 's', 'all postgres processes');
      res.add('ingest', `${tag}_cpu_azurite_s`, cpu.map((c) => c.azurite), 's', 'Azurite (uploads run during ingest)');
      res.add('ingest', `${tag}_cpu_clients_s`, cpu.map((c) => c.clients), 's', 'storescu processes and the benchmark itself');
      res.add('ingest', `${tag}_cpu_other_s`, cpu.map((c) => c.other), 's', 'busy CPU not accounted for: kernel work (softirq, writeback) and other processes');
      res.add('ingest', `${tag}_machine_busy_pct`, cpu.map((c) => (100 * c.machineBusy) / c.machineTotal), '%', `all ${cpus().length} cores`);
      res.add('ingest', `${tag}_index_commit_ms`, indexMs, 'ms', 'mean vna_ingest_duration_seconds: spooled object -> index commit');
      res.add('ingest', `${tag}_uploads_pending`, pendingUploads, 'inst', 'instances not yet uploaded to Azurite when the last C-STORE was acknowledged');
    }
  }

  private async wadoRound(a: BenchArchive, studyUid: string, suffix: string): Promise<void> {
    const study = `${a.baseUrl}/dicomweb/studies/${studyUid}`;
    const times: number[] = [];
    const firstBytes: number[] = [];
    const metaTimes: number[] = [];
    const metaFirstBytes: number[] = [];
    let bytes = 0;
    let metaBytes = 0;
    const memory = new PeakMemory(a.pid);
    await a.profileMark('-');
    for (let k = 0; k < this.o.runs; k++) {
      const r = await curl(study, DICOM_MULTIPART, a.apiKey);
      if (r.status !== 200) this.note(`WADO-RS study ${suffix}: HTTP ${r.status}`);
      times.push(r.seconds);
      firstBytes.push(r.firstByte);
      bytes = r.bytes;
      const m = await curl(`${study}/metadata`, DICOM_JSON, a.apiKey);
      if (m.status !== 200) this.note(`WADO-RS metadata ${suffix}: HTTP ${m.status}`);
      metaTimes.push(m.seconds);
      metaFirstBytes.push(m.firstByte);
      metaBytes = m.bytes;
    }
    const mem = memory.stop();
    await this.profile(a, `wado${suffix.replaceAll('_', '-') || '-after-ingest'}`);
    const res = this.results;
    res.add('wado', `wado_rs_study${suffix}_s`, times, 's', `GET /dicomweb/studies/{uid} multipart, ${bytes} B, curl -o /dev/null`);
    res.add('wado', `wado_rs_study${suffix}_MBps`, bytes / MB / median(times), 'MB/s');
    res.add('wado', `wado_rs_study${suffix}_first_byte_s`, firstBytes, 's', 'time to the first byte of the body');
    res.add('wado', `wado_rs_study_metadata${suffix}_s`, metaTimes, 's', `GET .../metadata, ${metaBytes} B JSON; first request builds the series document`);
    res.add('wado', `wado_rs_study_metadata${suffix}_first_s`, metaTimes[0]!, 's', 'the first metadata request after ingest');
    res.add('wado', `wado_rs_study_metadata${suffix}_first_byte_s`, metaFirstBytes, 's', 'time to the first byte of the body');
    res.add('wado', `wado_rs_study_metadata${suffix}_bytes`, metaBytes, 'B');
    res.add('wado', `wado_rs${suffix}_peak_rss_MB`, mem.peakRss / MB, 'MB', 'archive peak RSS over these retrieves');
    log(`WADO-RS${suffix || ' right after ingest'}: study ${fmt(median(times))} s (${fmt(bytes / MB / median(times))} MB/s, ${bytes} B), metadata ${metaTimes.map((t) => fmt(t)).join(' / ')} s (${metaBytes} B)`);
  }

  private async wado(a: BenchArchive, ct: GeneratedSet, ackedAt: number): Promise<void> {
    const studyUid = ct.studies[0]!.studyUid;
    await this.wadoRound(a, studyUid, '');
    const memory = new PeakMemory(a.pid);
    await a.waitSpoolEmpty(10 * 60_000);
    const mem = memory.stop();
    const drained = (performance.now() - ackedAt) / 1000;
    this.results.add('wado', 'uploads_done_after_last_ack_s', drained, 's', 'spool empty (every instance in Azurite), counted from the last C-STORE acknowledgement; the WADO-RS requests above overlap it');
    this.results.add('wado', 'upload_peak_rss_MB', mem.peakRss / MB, 'MB', 'archive peak RSS while the remaining uploads finished');
    log(`uploads to Azurite finished ${drained.toFixed(1)} s after the last acknowledgement`);
    await this.wadoRound(a, studyUid, '_after_upload');
  }

  // ------------------------------------------------------------ (e) coercion rules and the egress overlay

  /**
   * Ingest with no coercion rules against ten typical ones (the four shipped plus six that change
   * every object), a fresh archive per run, the two interleaved so drift hits both; then, on the last
   * run with rules, the study's WADO-RS retrieve with the egress overlay (every object's header
   * rewritten) against the same objects as received. Targets (issue 4): rules < 10% of ingest
   * throughput, the overlay < 15% of retrieve throughput.
   */
  async coercion(): Promise<void> {
    const ct = this.ct!;
    const n = ct.files.length;
    const rates: Record<'none' | 'ten', number[]> = { none: [], ten: [] };
    for (let r = 1; r <= this.o.runs; r++) {
      for (const mode of ['none', 'ten'] as const) {
        this.warm(ct.files);
        sync();
        const a = await this.startArchive(`coercion-${mode}-r${r}`);
        try {
          const active = await this.setCoercionRules(a, mode);
          await a.profileMark('-');
          const run = await storeDirectory(a.aet, a.dicomPort, ct.dir, STORE_TIMEOUT_MS);
          if (r === this.o.runs) await this.profile(a, `coercion-ingest-${mode}`);
          if (run.failures.length) this.note(`coercion ${mode} run ${r}: ${run.failures.join(' | ')}`);
          const counts = await a.counts();
          if (counts.instances !== n) this.note(`coercion ${mode} run ${r}: ${counts.instances} of ${n} instances indexed`);
          rates[mode].push(n / run.seconds);
          log(`ingest with ${active} coercion rule(s), run ${r}/${this.o.runs}: ${run.seconds.toFixed(2)} s, ${(n / run.seconds).toFixed(1)} inst/s`);
          if (mode === 'ten' && r === this.o.runs) await this.overlayRetrieve(a, ct);
        } finally {
          await this.stopArchive(a);
        }
      }
    }
    const res = this.results;
    res.add('coercion', 'cstore_1assoc_no_rules_inst_per_s', rates.none, 'inst/s', `storescu, ${n} inst, no coercion rule (the shipped ones deleted)`);
    res.add('coercion', 'cstore_1assoc_ten_rules_inst_per_s', rates.ten, 'inst/s', 'the four shipped rules and six that change every object');
    res.add('coercion', 'coercion_cost_pct', 100 * (1 - median(rates.ten) / median(rates.none)), '%', 'ingest throughput lost to ten rules (target < 10%)');
  }

  /** Leaves no rule (`none`) or ten (`ten`) active; answers how many. */
  private async setCoercionRules(a: BenchArchive, mode: 'none' | 'ten'): Promise<number> {
    const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
      const res = await fetch(`${a.baseUrl}${path}`, {
        method,
        headers: { Authorization: `Bearer ${a.apiKey}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
      return res.json();
    };
    const current = (await api('GET', '/api/v1/coercion-rules')) as { id: string }[];
    if (mode === 'none') {
      for (const rule of current) await api('DELETE', `/api/v1/coercion-rules/${rule.id}?reason=bench`);
      return 0;
    }
    const extra = [
      { name: 'bench institution', actions: [{ op: 'set', attribute: 'InstitutionName', value: 'Bench General Hospital' }] },
      { name: 'bench accession prefix', conditions: [{ context: 'aet', matches: '.' }], actions: [{ op: 'prefix', attribute: 'AccessionNumber', prefix: 'BN-' }] },
      { name: 'bench modality map', conditions: [{ attribute: 'Modality', equals: ['CT', 'MR'] }], actions: [{ op: 'map', attribute: 'Modality', table: { CT: 'CT', MR: 'MR' } }] },
      { name: 'bench description', actions: [{ op: 'replace', attribute: 'StudyDescription', pattern: '\\s+', replacement: ' ' }, { op: 'case', attribute: 'SeriesDescription', to: 'upper' }] },
      { name: 'bench station trim', actions: [{ op: 'trim', attribute: 'StationName' }] },
      { name: 'bench sop class guard', conditions: [{ attribute: 'SOPClassUID', matches: '^1\\.2\\.840\\.10008\\.5\\.1\\.4\\.1\\.1\\.' }], actions: [{ op: 'copy', from: 'StudyID', to: 'AdmissionID' }] },
    ];
    for (const [i, rule] of extra.entries()) await api('POST', '/api/v1/coercion-rules', { rule: { phase: 'ingest', priority: 200 + i, ...rule } });
    return current.length + extra.length;
  }

  private async overlayRetrieve(a: BenchArchive, ct: GeneratedSet): Promise<void> {
    const studyUid = ct.studies[0]!.studyUid;
    const coerced = await a.sql<{ n: string }>(`SELECT count(*) AS n FROM instance WHERE coerced IS NOT NULL`);
    if (Number(coerced[0]?.n ?? 0) !== ct.files.length) this.note(`overlay retrieve: ${coerced[0]?.n} of ${ct.files.length} instances carry an overlay`);
    const round = async (url: string): Promise<{ times: number[]; bytes: number }> => {
      const times: number[] = [];
      let bytes = 0;
      for (let k = 0; k < this.o.runs; k++) {
        const r = await curl(url, DICOM_MULTIPART, a.apiKey);
        if (r.status !== 200) this.note(`${url}: HTTP ${r.status}`);
        times.push(r.seconds);
        bytes = r.bytes;
      }
      return { times, bytes };
    };
    // Alternated, so neither gets the warmer cache throughout.
    await a.profileMark('-');
    const overlay = await round(`${a.baseUrl}/dicomweb/studies/${studyUid}`);
    await this.profile(a, 'wado-overlay');
    const asReceived = await round(`${a.baseUrl}/api/v1/as-received/studies/${studyUid}`);
    const overlayAgain = await round(`${a.baseUrl}/dicomweb/studies/${studyUid}`);
    const overlayTimes = [...overlay.times, ...overlayAgain.times];
    const res = this.results;
    res.add('coercion', 'wado_rs_study_overlay_s', overlayTimes, 's', `GET /dicomweb/studies/{uid}, every header rewritten by the overlay, ${overlay.bytes} B`);
    res.add('coercion', 'wado_rs_study_as_received_s', asReceived.times, 's', `GET /api/v1/as-received/studies/{uid}, the original bytes, ${asReceived.bytes} B`);
    res.add('coercion', 'overlay_cost_pct', 100 * (1 - median(asReceived.times) / median(overlayTimes)), '%', 'retrieve throughput lost to the overlay (target < 15%)');
    log(`WADO-RS study with the overlay ${fmt(median(overlayTimes))} s, as received ${fmt(median(asReceived.times))} s`);
  }

  // ------------------------------------------------------------ (f) storage lifecycle jobs

  /**
   * The tiering and retention jobs (issue 6) over --lifecycle-instances index rows seeded with SQL
   * and --lifecycle-moves real objects (stored over DIMSE, uploaded to Azurite) moved to Cool.
   * Target: 2,000 objects evaluated per second; tier moves limited by the store, not the archive.
   */
  async lifecycle(): Promise<void> {
    const moves = this.o.lifecycleMoves;
    const set = generatePatientStudies(join(this.env.workDir, 'data', 'lifecycle'), Math.ceil(moves / 100), Math.min(100, moves), 'LCMOVE');
    const a = await this.startArchive('lifecycle');
    try {
      const stored = await storeParallel(a.aet, a.dicomPort, set.files, this.o.parallel, STORE_TIMEOUT_MS);
      if (stored.failures.length) this.note(`lifecycle move set: ${stored.failures.join(' | ')}`);
      await a.waitSpoolEmpty(10 * 60_000);
      const t0 = performance.now();
      const seeded = await seedIndex(a, this.o.lifecycleInstances);
      log(`seeded ${seeded.instances} index rows in ${seeded.studies} studies with SQL in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${set.files.length} real objects stored`);
      await this.waitQuiet('the lifecycle jobs');
      await a.profileMark('-');
      const f = await lifecycleJobs(a, set.files.length, seeded.instances + set.files.length, log);
      await this.profile(a, 'lifecycle');
      if (f.moved !== set.files.length) this.note(`lifecycle: ${f.moved} of ${set.files.length} objects moved to Cool (${f.moveFailures} failed)`);
      const res = this.results;
      res.add('lifecycle', 'tiering_objects', f.evaluated, 'obj', 'stored objects the tiering job evaluated (one statement per batch)');
      res.add('lifecycle', 'tiering_eval_obj_per_s', f.evaluatePerS, 'obj/s', 'tiering evaluation, no object moved (target >= 2,000)');
      res.add('lifecycle', 'tier_moves', f.moved, 'obj', 'objects moved Hot -> Cool (Set Blob Tier on Azurite)');
      res.add('lifecycle', 'tier_moves_per_s', f.movesPerS, 'moves/s', 'the time spent moving: Set Blob Tier, VNA_LIFECYCLE_MOVE_CONCURRENCY (16) in flight, then the index update');
      res.add('lifecycle', 'retention_studies_per_s', f.retentionStudiesPerS, 'studies/s', `expiry of ${f.retentionStudies} studies and the deletion proposals (${f.proposed})`);
      res.add('lifecycle', 'retention_obj_per_s', f.retentionInstancesPerS, 'obj/s', 'the same, in the instances those studies hold (target >= 2,000)');
    } finally {
      await this.stopArchive(a);
    }
  }

  // ------------------------------------------------------------ (d) HL7: ADT throughput, merge time

  async hl7(): Promise<void> {
    const a = await this.startArchive('hl7');
    const port = a.hl7Port;
    try {
      const patients = 200;
      await admitPatients(port, 'HB', patients);
      // Warm-up (connections, prepared plans), not counted.
      await a08Run(port, 'HB', patients, 1, 200, 'w');
      for (const [label, connections] of [['1conn', 1], ['8conn', 8]] as const) {
        const perConnection = Math.floor(this.o.hl7Messages / connections);
        const rates: number[] = [];
        const p50: number[] = [];
        const p99: number[] = [];
        const cpu: CpuUse[] = [];
        for (let r = 1; r <= this.o.runs; r++) {
          await a.profileMark('-');
          const meter = new CpuMeter(a.pid, undefined, await a.postgresPids());
          const run = await a08Run(port, 'HB', patients, connections, perConnection, `${label}r${r}`);
          cpu.push(meter.read(await a.postgresPids()));
          if (r === this.o.runs) await this.profile(a, `hl7-a08-${label}`);
          if (run.rejected) this.note(`ADT^A08 ${label} run ${r}: ${run.rejected} of ${run.messages} not AA`);
          rates.push(run.messages / run.seconds);
          p50.push(percentile(run.latenciesMs, 50));
          p99.push(percentile(run.latenciesMs, 99));
          const use = cpu.at(-1)!;
          log(
            `ADT^A08 ${connections} connection(s) run ${r}/${this.o.runs}: ${run.messages} in ${run.seconds.toFixed(2)} s, ${(run.messages / run.seconds).toFixed(0)} msg/s, ACK p50 ${fmt(p50.at(-1)!)} ms p99 ${fmt(p99.at(-1)!)} ms, ` +
              `CPU s archive ${use.archive.toFixed(2)} postgres ${use.postgres.toFixed(2)} sender ${use.clients.toFixed(2)} other ${use.other.toFixed(2)}, machine ${use.machineBusy.toFixed(1)} of ${use.machineTotal.toFixed(1)}`,
          );
        }
        const perMessage = (f: (c: CpuUse) => number): number[] => cpu.map((c) => (1000 * f(c)) / (perConnection * connections));
        this.results.add('hl7', `a08_${label}_cpu_archive_ms_per_msg`, perMessage((c) => c.archive), 'ms', 'archive process CPU per message');
        this.results.add('hl7', `a08_${label}_cpu_postgres_ms_per_msg`, perMessage((c) => c.postgres), 'ms', "the archive database's postgres backends and the WAL writer, checkpointer and background writer, CPU per message");
        this.results.add('hl7', `a08_${label}_cpu_sender_ms_per_msg`, perMessage((c) => c.clients), 'ms', 'the benchmark process sending the messages, CPU per message');
        this.results.add('hl7', `a08_${label}_machine_busy_pct`, cpu.map((c) => (100 * c.machineBusy) / c.machineTotal), '%', `all ${cpus().length} cores`);
        const note = `ADT^A08 over ${connections} MLLP connection(s), ${perConnection} each, next message after the ACK; durable (committed before the ACK)`;
        this.results.add('hl7', `a08_${label}_msg_per_s`, rates, 'msg/s', note);
        this.results.add('hl7', `a08_${label}_ack_p50_ms`, p50, 'ms', 'send to ACK');
        this.results.add('hl7', `a08_${label}_ack_p99_ms`, p99, 'ms', 'send to ACK');
      }

      // A merge of a patient holding many instances: both admitted, the prior's objects stored, then A40.
      const set = this.mergeSet!;
      const client = await MllpClient.connect(port);
      try {
        for (const [id, name] of [['MERGEPRIOR', 'Prior^Bench'], ['MERGESURV', 'Survivor^Bench']] as const) {
          const ack = await client.request(adt('A04', `M-${id}`, id, name));
          if (ack.code !== 'AA') throw new Error(`A04 ${id}: ${ack.code}`);
        }
      } finally {
        await client.close();
      }
      const stored = await storeParallel(a.aet, a.dicomPort, set.files, this.o.parallel, STORE_TIMEOUT_MS);
      if (stored.failures.length) this.note(`merge set: ${stored.failures.join(' | ')}`);
      log(`stored ${set.files.length} instances of the prior patient in ${stored.seconds.toFixed(1)} s`);
      await a.waitSpoolEmpty(10 * 60_000);
      await this.waitQuiet('the merge');
      await a.profileMark('-');
      const seconds = await timeMerge(port, 'M-A40', 'MERGESURV', 'MERGEPRIOR');
      await this.profile(a, 'hl7-merge');
      const moved = await a.sql<{ n: string }>(
        `SELECT count(*) AS n FROM instance i JOIN series se ON se.id = i.series_fk JOIN study st ON st.id = se.study_fk JOIN patient p ON p.id = st.patient_fk WHERE p.current_patient_id = 'MERGESURV'`,
      );
      const n = Number(moved[0]?.n ?? 0);
      if (n !== set.files.length) this.note(`merge: ${n} of ${set.files.length} instances under the surviving patient afterwards`);
      this.results.add('hl7', 'merge_s', seconds, 's', `A40 sent to its ACK, prior patient holding ${set.files.length} instances in ${set.studies.length} studies (committed before the ACK)`);
      this.results.add('hl7', 'merge_instances', n, 'inst', 'instances under the surviving patient afterwards');
      log(`A40 merge of ${n} instances: ${seconds.toFixed(3)} s`);
    } finally {
      await this.stopArchive(a);
    }
  }

  // ------------------------------------------------------------ (b) QIDO-RS

  async qido(): Promise<void> {
    const a = await this.startArchive('qido');
    try {
      const queries: [string, number, string][] = [
        ['pid_exact', this.o.reps, '/dicomweb/studies?PatientID=QA000001'],
        ['name_prefix', this.o.reps, '/dicomweb/studies?PatientName=SMITH*'],
        ['date_range_1y', this.o.reps, '/dicomweb/studies?StudyDate=20150101-20151231'],
        ['accession', this.o.reps, '/dicomweb/studies?AccessionNumber=A00000001'],
        ['all_limit100', this.o.reps, '/dicomweb/studies?limit=100'],
        ['all', 1, '/dicomweb/studies'],
      ];
      for (const { set, total } of this.indexSets) {
        this.warm(set.files);
        const fill = await storeDirectory(a.aet, a.dicomPort, set.dir, STORE_TIMEOUT_MS);
        const counts = await a.counts();
        await a.analyze();
        if (fill.failures.length) this.note(`QIDO fill to ${total}: ${fill.failures.join(' | ')}`);
        if (counts.instances !== total) this.note(`QIDO fill: ${counts.instances} of ${total} studies indexed`);
        this.results.add('qido', `fill_to_${total}_inst_per_s`, set.files.length / fill.seconds, 'inst/s', `storescu, 1 association, ${set.files.length} one-instance studies`);
        const final = total === this.o.studies;
        if (final) await a.profileMark('-');
        const list = [...queries];
        for (let i = 0; i < list.length; i++) {
          const [name, reps, path] = list[i]!;
          const url = `${a.baseUrl}${path}`;
          const runs: number[] = [];
          for (let r = 0; r < this.o.runs; r++) runs.push(await meanLatency(url, DICOM_JSON, a.apiKey, reps));
          const res = await fetch(url, { headers: { Accept: DICOM_JSON, Authorization: `Bearer ${a.apiKey}` } });
          const body = await res.text();
          const hits = body.trim() ? (JSON.parse(body) as unknown[]).length : 0;
          const warning = res.headers.get('warning');
          this.results.add('qido', `qido_${name}_at_${total}_studies_s`, runs, 's', `mean of ${reps} per run; ${hits} hits; ${path}${warning ? '; truncated (Warning header)' : ''}`);
          this.results.add('qido', `qido_${name}_at_${total}_studies_hits`, hits, 'studies');
          log(`QIDO at ${total} studies: ${name.padEnd(14)} ${fmt(median(runs))} s, ${hits} hits${warning ? ' (truncated: Warning header)' : ''}`);
          if (name === 'all' && hits < total) {
            // The archive's default page is smaller than the index: ask for everything, as Orthanc answers.
            this.note(`GET /dicomweb/studies without limit returned ${hits} of ${total} studies (default page size); all_complete asks limit=${total}`);
            list.push(['all_complete', 1, `/dicomweb/studies?limit=${total}`]);
          }
        }
        if (final) await this.profile(a, `qido-at-${total}`);
      }
    } finally {
      await this.stopArchive(a);
    }
  }

  // ------------------------------------------------------------ FHIR: publish and search latency

  /**
   * Publish latency: one-instance studies sent one after another (storescu returning = the last
   * instance acknowledged) until each ImagingStudy is readable in a FHIR server (medplum's router
   * with its in-memory repository, in this process), the stability window subtracted. Search
   * latency: the archive's /fhir/R4 with --studies studies indexed (a second archive that
   * publishes nowhere, so that publishing does not run during the searches).
   */
  async fhir(): Promise<void> {
    const res = this.results;
    const windowMs = 1000;
    const ehr = await TestEhr.start();
    try {
      const a = await this.startArchive('fhir-publish', { VNA_FHIR_PUBLISH_URL: ehr.baseUrl, VNA_FHIR_CREATE_PATIENTS: 'true', VNA_STUDY_STABLE_SECONDS: String(windowMs / 1000) });
      try {
        const latencies: number[] = [];
        for (const study of this.fhirSamples!.studies) {
          const run = await storeParallel(a.aet, a.dicomPort, study.files, 1, STORE_TIMEOUT_MS);
          const acked = performance.now();
          if (run.failures.length) this.note(`FHIR publish sample: ${run.failures.join(' | ')}`);
          latencies.push((await readableAfter(ehr.baseUrl, study.studyUid, acked)) - windowMs);
        }
        const note = `last instance acknowledged (storescu returned) to the ImagingStudy readable in the EHR, minus the ${windowMs / 1000} s stability window; ${latencies.length} studies`;
        res.add('fhir', 'publish_p50_ms', percentile(latencies, 50), 'ms', note);
        res.add('fhir', 'publish_p95_ms', percentile(latencies, 95), 'ms', note);
        log(`FHIR publish beyond the window: p50 ${percentile(latencies, 50).toFixed(0)} ms, p95 ${percentile(latencies, 95).toFixed(0)} ms (${latencies.length} studies)`);
      } finally {
        await this.stopArchive(a);
      }
    } finally {
      await ehr.stop();
    }
    const b = await this.startArchive('fhir-search');
    try {
      this.warm(this.fhirIndex!.files);
      const fill = await storeDirectory(b.aet, b.dicomPort, this.fhirIndex!.dir, STORE_TIMEOUT_MS);
      if (fill.failures.length) this.note(`FHIR index fill: ${fill.failures.join(' | ')}`);
      const total = (await b.counts()).instances;
      await b.analyze();
      const reps = Math.max(20, this.o.reps * 10);
      const all: number[] = [];
      for (const [name, path] of [
        ['patient_identifier', '/fhir/R4/ImagingStudy?patient.identifier=FH000001'],
        ['accession', '/fhir/R4/ImagingStudy?identifier=A00000001'],
        ['started_1y_count100', '/fhir/R4/ImagingStudy?started=ge2015-01-01&started=le2015-12-31&_count=100'],
        ['modality_count50', '/fhir/R4/ImagingStudy?modality=CT&_count=50&_include=ImagingStudy:endpoint'],
        ['patient_name', '/fhir/R4/Patient?name=SMITH'],
      ] as const) {
        const { ms, total: hits } = await searchLatencies(`${b.baseUrl}${path}`, b.apiKey, reps);
        all.push(...ms);
        res.add('fhir', `search_${name}_p50_ms`, percentile(ms, 50), 'ms', `${reps} requests; ${hits} matches; ${path}`);
        res.add('fhir', `search_${name}_p95_ms`, percentile(ms, 95), 'ms', `${reps} requests at ${total} studies`);
        log(`FHIR search at ${total} studies: ${name.padEnd(20)} p50 ${percentile(ms, 50).toFixed(1)} ms, p95 ${percentile(ms, 95).toFixed(1)} ms, ${hits} matches`);
      }
      res.add('fhir', 'search_all_p50_ms', percentile(all, 50), 'ms', `every search above, at ${total} studies`);
      res.add('fhir', 'search_all_p95_ms', percentile(all, 95), 'ms', `every search above, at ${total} studies`);
    } finally {
      await this.stopArchive(b);
    }
  }

  // ------------------------------------------------------------ memory: one large object

  async memory(): Promise<void> {
    const mf = await this.generateMultiFrame();
    sync();
    // Two dcmtk storescps, known to the archive, take the object by C-MOVE at the end: one in its
    // stored syntax, one that accepts implicit VR only (the archive converts while it sends).
    const scpPort = await freePort();
    const implicitPort = await freePort();
    const a = await this.startArchive('memory', { VNA_DICOM_NODES: `BENCHSCP@127.0.0.1:${scpPort},BENCHSCPI@127.0.0.1:${implicitPort}` });
    try {
      const res = this.results;
      const mb = mf.bytes / MB;
      res.add('memory', 'object_MB', mb, 'MB', `${this.o.frames} frames 512x512x16 bit, Multi-frame Grayscale Word SC, explicit VR LE`);
      await a.profileMark('-');
      let memory = new PeakMemory(a.pid);
      const run = await storeParallel(a.aet, a.dicomPort, [mf.path], 1, STORE_TIMEOUT_MS);
      const ackedAt = performance.now();
      let mem = memory.stop();
      await this.profile(a, 'memory-store');
      const counts = await a.counts();
      if (run.failures.length) this.note(`large object: ${run.failures.join(' | ')}`);
      if (counts.instances !== 1) this.note(`large object: ${counts.instances} instances indexed`);
      res.add('memory', 'store_s', run.seconds, 's', 'storescu, 1 association');
      res.add('memory', 'store_MBps', mb / run.seconds, 'MB/s');
      res.add('memory', 'store_start_rss_MB', mem.startRss / MB, 'MB', 'archive RSS before the transfer');
      res.add('memory', 'store_peak_rss_MB', mem.peakRss / MB, 'MB', `archive peak RSS (${mem.source}) during the transfer`);
      log(`large object: stored in ${run.seconds.toFixed(1)} s (${(mb / run.seconds).toFixed(1)} MB/s); archive RSS ${(mem.startRss / MB).toFixed(0)} MB before, peak ${(mem.peakRss / MB).toFixed(0)} MB`);

      const url = `${a.baseUrl}/dicomweb/studies/${mf.studyUid}`;
      memory = new PeakMemory(a.pid);
      let r = await curl(url, DICOM_MULTIPART, a.apiKey);
      mem = memory.stop();
      if (r.status !== 200) this.note(`large object WADO-RS: HTTP ${r.status}`);
      res.add('memory', 'wado_s', r.seconds, 's', `WADO-RS study retrieve from the spool, ${r.bytes} B`);
      res.add('memory', 'wado_MBps', r.bytes / MB / r.seconds, 'MB/s');
      res.add('memory', 'wado_peak_rss_MB', mem.peakRss / MB, 'MB', 'archive peak RSS during the retrieve');
      log(`large object: WADO-RS ${r.seconds.toFixed(1)} s (${(r.bytes / MB / r.seconds).toFixed(1)} MB/s), peak RSS ${(mem.peakRss / MB).toFixed(0)} MB`);

      memory = new PeakMemory(a.pid);
      await a.waitSpoolEmpty(15 * 60_000);
      mem = memory.stop();
      res.add('memory', 'upload_done_after_ack_s', (performance.now() - ackedAt) / 1000, 's', 'upload to Azurite finished, from the acknowledgement (the retrieve above overlaps it)');
      res.add('memory', 'upload_peak_rss_MB', mem.peakRss / MB, 'MB', 'archive peak RSS while the upload finished');
      log(`large object: upload finished ${((performance.now() - ackedAt) / 1000).toFixed(1)} s after the ack, peak RSS ${(mem.peakRss / MB).toFixed(0)} MB`);

      memory = new PeakMemory(a.pid);
      r = await curl(url, DICOM_MULTIPART, a.apiKey);
      mem = memory.stop();
      if (r.status !== 200) this.note(`large object WADO-RS from the blob store: HTTP ${r.status}`);
      res.add('memory', 'wado_from_blob_s', r.seconds, 's', `WADO-RS study retrieve from Azurite, ${r.bytes} B`);
      res.add('memory', 'wado_from_blob_MBps', r.bytes / MB / r.seconds, 'MB/s');
      res.add('memory', 'wado_from_blob_peak_rss_MB', mem.peakRss / MB, 'MB', 'archive peak RSS during the retrieve');
      log(`large object: WADO-RS from Azurite ${r.seconds.toFixed(1)} s, peak RSS ${(mem.peakRss / MB).toFixed(0)} MB`);

      const destinations = [
        { aet: 'BENCHSCP', port: scpPort, accept: '+xa', key: 'cmove', what: 'C-MOVE from Azurite to a dcmtk storescp' },
        { aet: 'BENCHSCPI', port: implicitPort, accept: '+xi', key: 'cmove_implicit', what: 'C-MOVE from Azurite to a dcmtk storescp taking implicit VR only (converted on the way)' },
      ];
      for (const d of destinations) {
        const moved = join(dirname(mf.path), `moved-${d.aet}`);
        mkdirSync(moved, { recursive: true });
        const scp = dcmtkDaemon('storescp', ['-aet', d.aet, d.accept, '-od', moved, String(d.port)]);
        try {
          memory = new PeakMemory(a.pid);
          const started = performance.now();
          const move = await dcmtk('movescu', ['-S', '-aec', a.aet, '-aem', d.aet, '127.0.0.1', String(a.dicomPort), '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${mf.studyUid}`], {
            timeoutMs: STORE_TIMEOUT_MS,
          });
          const seconds = (performance.now() - started) / 1000;
          mem = memory.stop();
          const received = readdirSync(moved).reduce((sum, f) => sum + statSync(join(moved, f)).size, 0);
          if (move.code !== 0 || received < mf.bytes * 0.99) this.note(`large object ${d.key}: movescu exit ${move.code}, ${received} B at the destination`);
          res.add('memory', `${d.key}_s`, seconds, 's', `${d.what}, ${received} B received`);
          res.add('memory', `${d.key}_MBps`, received / MB / seconds, 'MB/s');
          res.add('memory', `${d.key}_peak_rss_MB`, mem.peakRss / MB, 'MB', `archive peak RSS during the ${d.key.replace('_', ' ')}`);
          log(`large object: ${d.what} ${seconds.toFixed(1)} s, peak RSS ${(mem.peakRss / MB).toFixed(0)} MB`);
        } finally {
          await scp.stop();
          rmSync(moved, { recursive: true, force: true });
        }
      }
    } finally {
      await this.stopArchive(a);
    }
  }

  // ------------------------------------------------------------ report

  report(peer: PeerResults | undefined, machine: Record<string, string>): { text: string; comparison: Comparison[] } {
    const r = this.results;
    const v = (s: string, m: string): number => r.value(s, m);
    const runs = (s: string, m: string): string => (r.get(s, m)?.values ?? []).map((x) => fmt(x)).join(' ');
    const out: string[] = [];
    out.push(`VNA benchmark  ${machine['date']}`);
    out.push(Object.entries(machine).filter(([k]) => k !== 'date').map(([k, val]) => `${k}: ${val}`).join('\n'));
    if (r.get('ingest', 'cstore_1assoc_s')) {
      const ct = this.ct!;
      out.push('', `(a) C-STORE ingest: ${ct.files.length} CT instances 512x512x16, ${(ct.bytes / MB).toFixed(1)} MB, storescu TCP_NODELAY=1, fresh archive per run, median of ${this.o.runs}`);
      out.push(
        table(
          ['assoc', 'seconds', 'runs', 'inst/s', 'MB/s', 'peak RSS MB', 'CPU s: archive', 'postgres', 'azurite', 'clients', 'other', 'machine busy', 'index+commit ms', 'uploads pending'],
          [1, this.o.parallel].map((mode) => {
            const t = `cstore_${mode}assoc`;
            return [
              String(mode),
              fmt(v('ingest', `${t}_s`)),
              runs('ingest', `${t}_s`),
              fmt(v('ingest', `${t}_inst_per_s`), 1),
              fmt(v('ingest', `${t}_MBps`), 1),
              fmt(v('ingest', `${t}_peak_rss_MB`), 0),
              fmt(v('ingest', `${t}_cpu_archive_s`), 2),
              fmt(v('ingest', `${t}_cpu_postgres_s`), 2),
              fmt(v('ingest', `${t}_cpu_azurite_s`), 2),
              fmt(v('ingest', `${t}_cpu_clients_s`), 2),
              fmt(v('ingest', `${t}_cpu_other_s`), 2),
              `${fmt(v('ingest', `${t}_machine_busy_pct`), 0)}%`,
              fmt(v('ingest', `${t}_index_commit_ms`), 2),
              fmt(v('ingest', `${t}_uploads_pending`), 0),
            ];
          }),
        ),
      );
    }
    if (r.get('wado', 'wado_rs_study_s')) {
      out.push('', `(c) WADO-RS, the ${this.ct!.files.length}-instance study (curl, body read whole), ${this.o.runs} requests each`);
      const rows = [['', 'right after ingest (spool)'], ['_after_upload', 'after the uploads (Azurite)']]
        .filter(([s]) => r.get('wado', `wado_rs_study${s}_s`))
        .map(([s, label]) => [
          label!,
          fmt(v('wado', `wado_rs_study${s}_s`)),
          fmt(v('wado', `wado_rs_study${s}_MBps`), 1),
          fmt(v('wado', `wado_rs_study${s}_first_byte_s`)),
          fmt(v('wado', `wado_rs_study_metadata${s}_s`)),
          runs('wado', `wado_rs_study_metadata${s}_s`),
          fmt(v('wado', `wado_rs_study_metadata${s}_first_byte_s`)),
          (v('wado', `wado_rs_study_metadata${s}_bytes`) / MB).toFixed(1),
          fmt(v('wado', `wado_rs${s}_peak_rss_MB`), 0),
        ]);
      out.push(table(['', 'study s', 'MB/s', 'first byte s', 'metadata s (median)', 'metadata runs', 'first byte s', 'metadata MB', 'peak RSS MB'], rows));
      out.push(`uploads to Azurite done ${fmt(v('wado', 'uploads_done_after_last_ack_s'))} s after the last acknowledgement (peak RSS ${fmt(v('wado', 'upload_peak_rss_MB'), 0)} MB)`);
    }
    const stages = this.indexSets.map((s) => s.total);
    if (stages.length && r.get('qido', `qido_pid_exact_at_${stages.at(-1)}_studies_s`)) {
      out.push('', `(b) QIDO-RS study search, seconds (curl; each run = mean of ${this.o.reps} requests, 'all' = 1; median of ${this.o.runs} runs), hits in brackets`);
      const names = ['pid_exact', 'name_prefix', 'date_range_1y', 'accession', 'all_limit100', 'all', 'all_complete'];
      const rows = names
        .filter((n) => stages.some((s) => r.get('qido', `qido_${n}_at_${s}_studies_s`)))
        .map((n) => [n, ...stages.map((s) => (r.get('qido', `qido_${n}_at_${s}_studies_s`) ? `${fmt(v('qido', `qido_${n}_at_${s}_studies_s`))} [${v('qido', `qido_${n}_at_${s}_studies_hits`)}]` : '-'))]);
      out.push(table(['query', ...stages.map((s) => `${s} studies`)], rows));
    }
    if (r.get('memory', 'store_s')) {
      out.push('', `Memory: one ${fmt(v('memory', 'object_MB'), 0)} MB multi-frame object (${this.o.frames} frames) over storescu, then WADO-RS`);
      out.push(
        table(
          ['step', 'seconds', 'MB/s', 'archive peak RSS MB'],
          [
            ['C-STORE (RSS before: ' + fmt(v('memory', 'store_start_rss_MB'), 0) + ' MB)', fmt(v('memory', 'store_s')), fmt(v('memory', 'store_MBps'), 1), fmt(v('memory', 'store_peak_rss_MB'), 0)],
            ['WADO-RS from the spool', fmt(v('memory', 'wado_s')), fmt(v('memory', 'wado_MBps'), 1), fmt(v('memory', 'wado_peak_rss_MB'), 0)],
            ['upload to Azurite (done after ack)', fmt(v('memory', 'upload_done_after_ack_s')), '', fmt(v('memory', 'upload_peak_rss_MB'), 0)],
            ['WADO-RS from Azurite', fmt(v('memory', 'wado_from_blob_s')), fmt(v('memory', 'wado_from_blob_MBps'), 1), fmt(v('memory', 'wado_from_blob_peak_rss_MB'), 0)],
            ['C-MOVE from Azurite to storescp', fmt(v('memory', 'cmove_s')), fmt(v('memory', 'cmove_MBps'), 1), fmt(v('memory', 'cmove_peak_rss_MB'), 0)],
            ['C-MOVE, converted to implicit VR', fmt(v('memory', 'cmove_implicit_s')), fmt(v('memory', 'cmove_implicit_MBps'), 1), fmt(v('memory', 'cmove_implicit_peak_rss_MB'), 0)],
          ],
        ),
      );
    }
    if (r.get('hl7', 'a08_1conn_msg_per_s')) {
      out.push('', `(d) HL7 v2 over MLLP: ADT^A08, next message after each ACK (median of ${this.o.runs} runs); targets 500 msg/s on 1, 1,500 on 8, p99 under 20 ms`);
      out.push(
        table(
          ['connections', 'msg/s', 'ACK p50 ms', 'ACK p99 ms', 'CPU ms/msg: archive', 'postgres', 'sender', 'machine busy'],
          (['1conn', '8conn'] as const).map((l) => [
            l.replace('conn', ''),
            fmt(v('hl7', `a08_${l}_msg_per_s`), 0),
            fmt(v('hl7', `a08_${l}_ack_p50_ms`), 2),
            fmt(v('hl7', `a08_${l}_ack_p99_ms`), 2),
            fmt(v('hl7', `a08_${l}_cpu_archive_ms_per_msg`), 3),
            fmt(v('hl7', `a08_${l}_cpu_postgres_ms_per_msg`), 3),
            fmt(v('hl7', `a08_${l}_cpu_sender_ms_per_msg`), 3),
            `${fmt(v('hl7', `a08_${l}_machine_busy_pct`), 0)}%`,
          ]),
        ),
      );
      if (r.get('hl7', 'merge_s')) out.push(`A40 merge of a patient with ${fmt(v('hl7', 'merge_instances'), 0)} instances: ${fmt(v('hl7', 'merge_s'))} s to the ACK (target under 1 s)`);
    }
    if (r.get('coercion', 'cstore_1assoc_ten_rules_inst_per_s')) {
      out.push('', `(e) coercion rules and the egress overlay: ${this.ct!.files.length} CT instances, 1 association, fresh archive per run (median of ${this.o.runs}); targets: rules < 10% of ingest, overlay < 15% of retrieve`);
      out.push(
        table(
          ['', 'no rules', 'ten rules', 'cost'],
          [['C-STORE inst/s', fmt(v('coercion', 'cstore_1assoc_no_rules_inst_per_s'), 1), fmt(v('coercion', 'cstore_1assoc_ten_rules_inst_per_s'), 1), `${fmt(v('coercion', 'coercion_cost_pct'), 1)}%`]],
        ),
      );
      if (r.get('coercion', 'wado_rs_study_overlay_s')) {
        out.push(
          table(
            ['WADO-RS study', 'as received s', 'with overlay s', 'cost'],
            [['', fmt(v('coercion', 'wado_rs_study_as_received_s')), fmt(v('coercion', 'wado_rs_study_overlay_s')), `${fmt(v('coercion', 'overlay_cost_pct'), 1)}%`]],
          ),
        );
      }
    }
    if (r.get('lifecycle', 'tiering_eval_obj_per_s')) {
      out.push('', `(f) storage lifecycle jobs over ${fmt(v('lifecycle', 'tiering_objects'), 0)} indexed objects (target: 2,000 objects evaluated per second; moves limited by the store)`);
      out.push(
        table(
          ['job', 'rate', 'unit'],
          [
            ['tiering evaluation', fmt(v('lifecycle', 'tiering_eval_obj_per_s'), 0), 'objects/s'],
            [`tier moves (${fmt(v('lifecycle', 'tier_moves'), 0)} to Cool)`, fmt(v('lifecycle', 'tier_moves_per_s'), 0), 'moves/s'],
            ['retention (expiry + proposals)', fmt(v('lifecycle', 'retention_studies_per_s'), 0), 'studies/s'],
            ['retention, in objects', fmt(v('lifecycle', 'retention_obj_per_s'), 0), 'objects/s'],
          ],
        ),
      );
    }
    if (r.get('fhir', 'publish_p50_ms')) {
      out.push('', '(g) FHIR R4: ImagingStudy publish latency beyond the stability window, and /fhir/R4 search latency; targets p95 publish under 200 ms, searches under 20 ms p95');
      const searches = r.figures.filter((f) => f.section === 'fhir' && /^search_.*_p50_ms$/.test(f.metric)).map((f) => f.metric.replace(/^search_|_p50_ms$/g, ''));
      out.push(
        table(
          ['figure', 'p50 ms', 'p95 ms'],
          [
            ['publish (ack to readable in the EHR, minus the window)', fmt(v('fhir', 'publish_p50_ms'), 0), fmt(v('fhir', 'publish_p95_ms'), 0)],
            ...searches.map((name) => [`search ${name}`, fmt(v('fhir', `search_${name}_p50_ms`), 1), fmt(v('fhir', `search_${name}_p95_ms`), 1)]),
          ],
        ),
      );
    }
    let comparison: Comparison[] = [];
    if (peer) {
      comparison = compare(r, peer, this.o.studies, this.o.parallel);
      out.push('', 'Against Orthanc', formatComparison(comparison, peer.path));
    } else {
      out.push('', `No Orthanc figures at ${this.o.orthanc}: run ../shared/peers/bench_orthanc.sh and pass --orthanc /tmp/peers-bench/results.tsv`);
    }
    if (this.notes.length) out.push('', 'Notes:', ...this.notes.map((n) => `- ${n}`));
    return { text: `${out.join('\n')}\n`, comparison };
  }
}

function machineInfo(): Record<string, string> {
  const sh = (cmd: string, args: string[]): string => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '?';
    }
  };
  return {
    date: new Date().toISOString(),
    machine: `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Linux ${release()}`,
    node: process.version,
    commit: sh('git', ['rev-parse', '--short', 'HEAD']) + (sh('git', ['status', '--porcelain', '--untracked-files=no']) ? ' (work tree modified)' : ''),
  };
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  mkdirSync(o.resultsDir, { recursive: true });
  mkdirSync(o.workDir, { recursive: true });
  const machine = machineInfo();
  machine['dcmtk'] = (await toolVersion('storescu', ['--version'])).replace(/^\$dcmtk: /, '').replace(/ \$$/, '');
  log(`results: ${o.resultsDir}; data: ${o.workDir}`);
  const env = await BenchEnv.setUp(o.workDir, o.keepData, log);
  const bench = new Bench(o, env);
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping the archive and cleaning up`);
    void bench
      .destroyAll()
      .then(() => env.tearDown())
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const started = performance.now();
  let failure: unknown;
  try {
    const pgVersion = await (async () => {
      const { default: pg } = await import('pg');
      const c = new pg.Client({ connectionString: env.env.adminUrl });
      await c.connect();
      try {
        return String((await c.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version);
      } finally {
        await c.end();
      }
    })();
    machine['postgresql'] = pgVersion;
    bench.generate();
    sync();
    if (o.phases.has('ingest') || o.phases.has('wado')) await bench.ingest();
    if (o.phases.has('qido')) await bench.qido();
    if (o.phases.has('memory') && o.frames > 0) await bench.memory();
    if (o.phases.has('hl7')) await bench.hl7();
    if (o.phases.has('lifecycle')) await bench.lifecycle();
    if (o.phases.has('coercion')) await bench.coercion();
    if (o.phases.has('fhir')) await bench.fhir();
  } catch (e) {
    failure = e;
  } finally {
    await bench.destroyAll();
    await env.tearDown();
  }
  const peer = PeerResults.load(o.orthanc);
  const { text, comparison } = bench.report(peer, machine);
  const minutes = (performance.now() - started) / 60_000;
  process.stdout.write(`\n${text}\nwhole benchmark: ${minutes.toFixed(1)} min\n`);
  if (bench.profiles.length) {
    process.stdout.write(`\nCPU profiles (${join(o.resultsDir, 'profiles')}):\n`);
    for (const p of bench.profiles) process.stdout.write(`${p.summary.split('\n').slice(0, 14).join('\n')}\n  ... full: ${p.path.replace(/\.cpuprofile$/, '.txt')}\n\n`);
  }
  bench.results.writeTsv(join(o.resultsDir, 'results.tsv'));
  writeFileSync(
    join(o.resultsDir, 'results.json'),
    JSON.stringify({ machine, options: { ...o, phases: [...o.phases] }, minutes, figures: bench.results.figures, comparison, notes: bench.notes, orthanc: peer?.path ?? null }, null, 1),
  );
  writeFileSync(join(o.resultsDir, 'summary.txt'), text);
  process.stdout.write(`results: ${join(o.resultsDir, 'results.tsv')}, results.json, summary.txt\n`);
  if (failure) {
    process.stderr.write(`[bench] FAILED: ${(failure as Error).stack ?? String(failure)}\n`);
    process.exitCode = 1;
  }
}

await main();
