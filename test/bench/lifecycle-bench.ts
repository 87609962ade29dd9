import type { BenchArchive } from './bench-archive.js';

/** UID root of the index rows seeded for the lifecycle phase (never sent as objects). */
const SEED_ROOT = '1.2.826.0.1.3680043.10.1434.901';
/** Instances per seeded study (one series each); studies per seeding statement. */
const PER_STUDY = 10;
const STUDIES_PER_BATCH = 2_000;

async function api(a: BenchArchive, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${a.baseUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${a.apiKey}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.status === 204 ? {} : ((await res.json()) as Record<string, unknown>);
}

/**
 * Seeds `instances` index rows (studies of 10 instances, MR/CR/US/XA, study dates over 25 years,
 * patients of every age) straight into the index, a set-based INSERT ... SELECT per 2,000 studies
 * (no per-row parameters: nothing near PostgreSQL's 65,535-parameter limit). Their blobs do not
 * exist: the policies the phase sets never move them, they are there to be evaluated.
 */
export async function seedIndex(a: BenchArchive, instances: number): Promise<{ studies: number; instances: number }> {
  const studies = Math.ceil(instances / PER_STUDY);
  const patients = Math.max(1, Math.ceil(studies / 4));
  await a.sql(
    `INSERT INTO patient (patient_id, issuer, current_patient_id, current_issuer, birth_date)
     SELECT 'LCB' || g, '', 'LCB' || g, '', to_char(date '1940-01-01' + (g * 37 % 30000), 'YYYYMMDD') FROM generate_series(1, $1::int) g`,
    [patients],
  );
  for (let from = 1; from <= studies; from += STUDIES_PER_BATCH) {
    const to = Math.min(studies, from + STUDIES_PER_BATCH - 1);
    await a.sql(
      `WITH st AS (
         INSERT INTO study (study_uid, patient_fk, study_date, description)
         SELECT $1 || '.' || g, p.id, to_char(date '2001-01-01' + (g * 13 % 9125), 'YYYYMMDD'), 'BENCH STUDY'
           FROM generate_series($2::int, $3::int) g JOIN patient p ON p.patient_id = 'LCB' || (1 + g % $4::int) AND p.issuer = ''
         RETURNING id, study_uid
       ), se AS (
         INSERT INTO series (series_uid, study_fk, modality)
         SELECT study_uid || '.1', id, (ARRAY['MR', 'CR', 'US', 'XA'])[1 + id % 4] FROM st
         RETURNING id, series_uid
       )
       INSERT INTO instance (sop_instance_uid, series_fk, sop_class_uid, transfer_syntax_uid, size_bytes, sha256, md5, dataset_offset,
                             storage_state, blob_key, source_aet, source_kind, stored_at, metadata)
       SELECT se.series_uid || '.' || n, se.id, '1.2.840.10008.5.1.4.1.1.4', '1.2.840.10008.1.2.1', 250000 + n * 1000,
              sha256(convert_to(se.series_uid || '.' || n, 'UTF8')), NULL, 132, 'stored',
              'sha256/seed/' || encode(sha256(convert_to(se.series_uid || '.' || n, 'UTF8')), 'hex'), 'BENCHSCU', 'dimse', now(), '{}'
         FROM se CROSS JOIN generate_series(1, ${PER_STUDY}) n`,
      [SEED_ROOT, from, to, patients],
    );
  }
  for (const table of ['patient', 'study', 'series', 'instance']) await a.sql(`ANALYZE ${table}`);
  return { studies, instances: studies * PER_STUDY };
}

export interface LifecycleFigures {
  readonly evaluated: number;
  readonly evaluatePerS: number;
  readonly moved: number;
  readonly movesPerS: number;
  readonly moveFailures: number;
  readonly retentionStudies: number;
  readonly retentionStudiesPerS: number;
  readonly retentionInstancesPerS: number;
  readonly proposed: number;
}

/**
 * The lifecycle jobs over the seeded index plus `movable` real objects (stored through DIMSE,
 * uploaded to Azurite), through /api/v1 as HIM would run them:
 * 1. tiering with policies none of the seeded rows match (pure evaluation: objects per second);
 * 2. a policy moving the real objects to Cool: the moves' rate is their count over the time the
 *    run spent moving (Set Blob Tier in parallel, then the index);
 * 3. retention: policies saved, then the retention job (expiry of every study, proposals).
 */
export async function lifecycleJobs(a: BenchArchive, movable: number, instances: number, log: (line: string) => void): Promise<LifecycleFigures> {
  const put = (path: string, body: unknown) => api(a, 'PUT', path, body);
  await put('/api/v1/lifecycle/tier-policies/bench-archive-old', { priority: 10, tier: 'Archive', minAgeDays: 36_500 });
  await put('/api/v1/lifecycle/tier-policies/bench-cold-idle', { priority: 20, tier: 'Cold', minIdleDays: 36_500, modality: 'MR' });
  await put('/api/v1/lifecycle/tier-policies/bench-cool-large', { priority: 30, tier: 'Cool', minSizeBytes: 1_000_000_000 });
  const evaluation = await api(a, 'POST', '/api/v1/lifecycle/jobs/tiering');
  const evaluated = Number(evaluation['evaluated']);
  const evalSeconds = Number(evaluation['seconds']);
  log(`tiering evaluation: ${evaluated} objects in ${evalSeconds.toFixed(2)} s (${(evaluated / evalSeconds).toFixed(0)}/s), ${String(evaluation['moved'])} moved`);

  await put('/api/v1/lifecycle/tier-policies/bench-ct-cool', { priority: 5, tier: 'Cool', modality: 'CT', minAgeDays: 30 });
  const moving = await api(a, 'POST', '/api/v1/lifecycle/jobs/tiering');
  const moved = Number(moving['moved']);
  const moveSeconds = Math.max(0.001, Number(moving['moveSeconds']));
  log(`tier moves: ${moved} of ${movable} to Cool (${String(moving['failed'])} failed) in ${moveSeconds.toFixed(2)} s (${(moved / moveSeconds).toFixed(0)}/s); the run ${Number(moving['seconds']).toFixed(2)} s in all`);

  await put('/api/v1/retention/policies/bench-mr-7y', { priority: 10, retainYears: 7, modality: 'MR' });
  await put('/api/v1/retention/policies/bench-default-10y', { priority: 100, retainYears: 10, minorAge: 18 });
  const retention = await api(a, 'POST', '/api/v1/lifecycle/jobs/retention');
  const studies = Number(retention['evaluated']);
  const retentionSeconds = Number(retention['seconds']);
  log(`retention: expiry of ${studies} studies in ${retentionSeconds.toFixed(2)} s (${(studies / retentionSeconds).toFixed(0)} studies/s), ${String(retention['proposed'])} proposed for deletion`);
  return {
    evaluated,
    evaluatePerS: evaluated / evalSeconds,
    moved,
    movesPerS: moved / moveSeconds,
    moveFailures: Number(moving['failed']),
    retentionStudies: studies,
    retentionStudiesPerS: studies / retentionSeconds,
    retentionInstancesPerS: instances / retentionSeconds,
    proposed: Number(retention['proposed']),
  };
}
