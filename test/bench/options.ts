import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';

export type Phase = 'ingest' | 'wado' | 'qido' | 'memory' | 'hl7' | 'coercion' | 'lifecycle' | 'fhir';
export const PHASES: readonly Phase[] = ['ingest', 'wado', 'qido', 'memory', 'hl7', 'coercion', 'lifecycle', 'fhir'];

export interface BenchOptions {
  readonly runs: number;
  readonly instances: number;
  readonly parallel: number;
  readonly studies: number;
  readonly reps: number;
  readonly frames: number;
  readonly hl7Messages: number;
  readonly mergeInstances: number;
  readonly lifecycleInstances: number;
  readonly lifecycleMoves: number;
  readonly fhirSamples: number;
  readonly phases: ReadonlySet<Phase>;
  readonly resultsDir: string;
  readonly orthanc: string;
  readonly profile: boolean;
  readonly keepData: boolean;
  readonly workDir: string;
}

export const USAGE = `npm run bench -- [options]     (node dist/test/bench/run.js [options])

  --runs N          fresh-archive runs per ingest mode, median reported (default 3; env BENCH_RUNS)
  --instances N     512x512 16-bit CT instances in the ingest study (default 1000)
  --parallel N      associations of the parallel ingest (default 4)
  --studies N       one-instance studies in the QIDO index, filled in stages 1, 99, N-100 like the peer (default 2000)
  --reps N          requests averaged per QIDO latency figure (default 5)
  --frames N        frames of the large multi-frame object, 512x512x16 bit (default 2000 = 1 GiB; 0 skips)
  --hl7-messages N  ADT^A08 messages per HL7 run, one connection or spread over 8 (default 4000)
  --merge-instances N  instances of the patient merged by A40, in studies of 100 (default 10000)
  --lifecycle-instances N  index rows (seeded with SQL) the lifecycle jobs evaluate (default 100000)
  --lifecycle-moves N  real objects the lifecycle phase moves between tiers (default 1000)
  --fhir-samples N  one-instance studies sent one after another for the FHIR publish latency (default 20)
  --phases LIST     comma-separated: ingest, wado (after the last 1-association ingest run; alone: after
                    one ingest run), qido, memory, hl7 (ADT^A08 rates and a 10,000-instance merge),
                    coercion (1-association ingest with no coercion rules vs ten typical ones, and the
                    study's WADO-RS retrieve with the egress overlay vs as received), fhir (ImagingStudy
                    publish latency to a FHIR server, FHIR search latency at --studies studies) (default all)
  --results DIR     where results.tsv/results.json/profiles go (default .vna/bench/<timestamp>)
  --orthanc FILE    Orthanc's results.tsv to compare with (default ../shared/peers/results_orthanc.tsv;
                    use /tmp/peers-bench/results.tsv after running bench_orthanc.sh in the same session)
  --profile         CPU-profile the archive during each phase (NODE_OPTIONS=--import profile-hook.js)
  --work DIR        parent directory for generated data (default the OS temp directory); the run's own
                    vna-bench-<timestamp> directory in it is deleted at the end
  --keep-data       keep the generated data (and the work directory)
`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
  const o = {
    runs: Number(process.env['BENCH_RUNS'] ?? 3),
    instances: 1000,
    parallel: 4,
    studies: 2000,
    reps: 5,
    frames: 2000,
    hl7Messages: 4000,
    mergeInstances: 10000,
    lifecycleInstances: 100_000,
    lifecycleMoves: 1000,
    fhirSamples: 20,
    phases: new Set<Phase>(PHASES),
    resultsDir: resolve('.vna/bench', stamp),
    orthanc: resolve('../shared/peers/results_orthanc.tsv'),
    profile: false,
    keepData: false,
    workDir: '',
  };
  const args = [...argv];
  const value = (flag: string): string => {
    const v = args.shift();
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value\n\n${USAGE}`);
    return v;
  };
  const int = (flag: string, min: number): number => {
    const v = value(flag);
    if (!/^\d+$/.test(v) || Number(v) < min) throw new Error(`${flag} must be an integer >= ${min} (got "${v}")`);
    return Number(v);
  };
  while (args.length) {
    const a = args.shift()!;
    switch (a) {
      case '--runs': o.runs = int(a, 1); break;
      case '--instances': o.instances = int(a, 1); break;
      case '--parallel': o.parallel = int(a, 2); break;
      case '--studies': o.studies = int(a, 101); break;
      case '--reps': o.reps = int(a, 1); break;
      case '--frames': o.frames = int(a, 0); break;
      case '--hl7-messages': o.hl7Messages = int(a, 8); break;
      case '--merge-instances': o.mergeInstances = int(a, 100); break;
      case '--lifecycle-instances': o.lifecycleInstances = int(a, 10); break;
      case '--lifecycle-moves': o.lifecycleMoves = int(a, 1); break;
      case '--fhir-samples': o.fhirSamples = int(a, 2); break;
      case '--phases': {
        const list = value(a).split(',').map((p) => p.trim()).filter(Boolean);
        for (const p of list) if (!PHASES.includes(p as Phase)) throw new Error(`unknown phase "${p}" (phases: ${PHASES.join(', ')})`);
        o.phases = new Set(list as Phase[]);
        break;
      }
      case '--results': o.resultsDir = resolve(value(a)); break;
      case '--orthanc': o.orthanc = resolve(value(a)); break;
      case '--profile': o.profile = true; break;
      case '--keep-data': o.keepData = true; break;
      case '--work': o.workDir = resolve(value(a)); break;
      case '-h':
      case '--help':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}\n\n${USAGE}`);
    }
  }
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('BENCH_RUNS must be a positive integer');
  if (o.frames > 0 && o.frames * 512 * 512 * 2 > 0xfffffffe) throw new Error('--frames: at most 16383 frames fit one Pixel Data element');
  o.workDir = join(o.workDir || tmpdir(), `vna-bench-${stamp}`);
  return o;
}
