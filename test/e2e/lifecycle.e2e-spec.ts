import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Tag } from '#vna/dicom';
import { RunningArchive } from '../support/archive-process.js';
import { dcmtk, type ToolResult } from '../support/dcmtk.js';
import { eventually, first, qido, sql, stowAll, syntheticInstance, TEST_UID_ROOT } from '../support/dicomweb.js';
import { multipartBodies } from '../support/fixtures.js';

const R = `${TEST_UID_ROOT}.60`;

/**
 * The storage lifecycle through the running archive (Azurite behind it): a tiering policy set over
 * /api/v1 moves objects to Archive, QIDO says NEARLINE, WADO-RS answers 503 with Retry-After and
 * why while rehydration starts (Azurite rehydrates at once: the next request is served), C-GET
 * counts an archived object as a failed sub-operation, and a legal hold refuses a deletion request.
 */
describe('storage lifecycle against the running archive', () => {
  let archive: RunningArchive;
  let work: string;
  const studyA = `${R}.1`;
  const studyB = `${R}.2`;
  const a1 = syntheticInstance({ study: studyA, series: `${studyA}.1`, sop: `${studyA}.1.1`, patientId: 'PID-LC1', image: { rows: 8, columns: 8, seed: 1 } });
  const a2 = syntheticInstance({ study: studyA, series: `${studyA}.1`, sop: `${studyA}.1.2`, instanceNumber: 2, patientId: 'PID-LC1', image: { rows: 8, columns: 8, seed: 2 } });
  const b1 = syntheticInstance({ study: studyB, series: `${studyB}.1`, sop: `${studyB}.1.1`, patientId: 'PID-LC2', image: { rows: 8, columns: 8, seed: 3 } });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vna-e2e-lifecycle-'));
    archive = await RunningArchive.start({ label: 'lifecycle', env: { VNA_LIFECYCLE_INTERVAL_SECONDS: '86400', VNA_LIFECYCLE_RETRY_AFTER_SECONDS: '120' } });
    await stowAll(archive, [a1, a2, b1]);
    await eventually('the uploads', async () => {
      const [row] = await sql<{ n: number }>(archive, `SELECT count(*)::int AS n FROM instance WHERE storage_state = 'stored'`);
      return row!.n === 3 ? true : undefined;
    });
  });

  afterAll(async () => {
    await archive?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  const json = async (res: Response): Promise<Record<string, unknown>> => (await res.json()) as Record<string, unknown>;

  it('a tiering policy set over /api/v1 moves every object to Archive; QIDO says NEARLINE; /metrics counts the tier', async () => {
    const policy = { tier: 'Archive', minAgeDays: 0 };
    expect((await archive.fetch('/api/v1/lifecycle/tier-policies/all-archive', { method: 'PUT', key: 'reader', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(policy) })).status).toBe(403);
    const bad = await archive.fetch('/api/v1/lifecycle/tier-policies/bad', { method: 'PUT', key: 'admin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ tier: 'Frozen' }) });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const saved = await archive.fetch('/api/v1/lifecycle/tier-policies/all-archive', { method: 'PUT', key: 'admin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(policy) });
    expect(saved.status).toBe(200);
    const run = await archive.fetch('/api/v1/lifecycle/jobs/tiering', { method: 'POST', key: 'admin' });
    expect(await json(run)).toMatchObject({ evaluated: 3, moved: 3, failed: 0 });
    expect((await archive.fetch('/api/v1/lifecycle/jobs/defrost', { method: 'POST', key: 'admin' })).status).toBe(400);

    const [study] = await qido(archive, `/dicomweb/studies?StudyInstanceUID=${studyA}&includefield=00080056`);
    expect(first(study, Tag.InstanceAvailability)).toBe('NEARLINE');
    const storage = await json(await archive.fetch('/api/v1/lifecycle/storage', { key: 'reader' }));
    expect(storage['tiers']).toEqual(expect.arrayContaining([expect.objectContaining({ tier: 'Archive', objects: 3 })]));
    expect(await (await archive.fetch('/metrics')).text()).toMatch(/vna_storage_objects\{tier="Archive"\} 3/);
  });

  it('WADO-RS of an archived study: 503 with Retry-After and why, rehydration started; then served', async () => {
    const refused = await archive.fetch(`/dicomweb/studies/${studyA}`, { key: 'reader', headers: { Accept: 'multipart/related; type="application/dicom"' } });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('120');
    expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(String((await json(refused))['detail'])).toMatch(/2 objects are in the Archive tier .*rehydration .*started/);

    const served = await archive.fetch(`/dicomweb/studies/${studyA}`, { key: 'reader', headers: { Accept: 'multipart/related; type="application/dicom"' } });
    expect(served.status).toBe(200);
    expect(multipartBodies(Buffer.from(await served.arrayBuffer()), served.headers.get('content-type')!)).toHaveLength(2);
    const [study] = await qido(archive, `/dicomweb/studies?StudyInstanceUID=${studyA}&includefield=00080056`);
    expect(first(study, Tag.InstanceAvailability)).toBe('ONLINE');
  });

  it('C-GET of an archived object: the sub-operation fails (rehydration started); the next C-GET gets it', async () => {
    const get = async (dir: string): Promise<{ r: ToolResult; files: string[] }> => {
      const out = join(work, dir);
      mkdirSync(out, { recursive: true });
      // -ta: getscu leaves a failed C-GET's identifier (Failed SOP Instance UID List) unread and then waits for its release answer.
      const r = await dcmtk('getscu', ['-v', '-ta', '3', '-S', '-aec', 'VNA', '-od', out, '127.0.0.1', String(archive.dicomPort), '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyB}`]);
      return { r, files: readdirSync(out) };
    };
    const archived = await get('archived');
    expect(archived.files).toHaveLength(0);
    expect(archived.r.stderr).toMatch(/Refused: OutOfResourcesSubOperations/);
    expect(archived.r.stderr).toMatch(/Number of Failed Suboperations\s*: 1/);
    const second = await get('rehydrated');
    expect(second.r.code).toBe(0);
    expect(second.files).toHaveLength(1);
  });

  it('a legal hold placed over /api/v1 refuses a deletion request with 409; bad requests get 400 and change nothing', async () => {
    const post = (path: string, body: unknown, key: 'admin' | 'reader' = 'admin') =>
      archive.fetch(path, { method: 'POST', key, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/api/v1/legal-holds', { scope: 'study', studyUid: studyA, reason: 'claim', caseReference: 'C-1' }, 'reader')).status).toBe(403);
    expect((await post('/api/v1/legal-holds', { scope: 'study', reason: 'claim', caseReference: 'C-1' })).status).toBe(400);
    const placed = await post('/api/v1/legal-holds', { scope: 'study', studyUid: studyA, reason: 'malpractice claim', caseReference: 'CASE-E2E-1' });
    expect(placed.status).toBe(201);
    expect(await json(placed)).toMatchObject({ scope: 'study', studyUid: studyA, placedBy: 'admin', caseReference: 'CASE-E2E-1' });
    const refused = await post('/api/v1/retention/deletions', { studyUid: studyA, reason: 'cleanup' });
    expect(refused.status).toBe(409);
    expect(String((await json(refused))['detail'])).toMatch(/legal hold .*CASE-E2E-1/);
    expect(await (await archive.fetch('/api/v1/retention/deletions', { key: 'reader' })).json()).toEqual([]);
    expect(await json(await archive.fetch(`/api/v1/retention/studies/${studyA}`, { key: 'reader' }))).toMatchObject({ held: true });
    // The worker mirrors the hold to the store: Azurite has no legal holds, which readiness shows.
    await eventually('the hold mirrored', async () => {
      const body = await json(await archive.fetch('/health/ready'));
      return (body['checks'] as Record<string, { status: string }>)['legal-hold-mirror']?.status === 'degraded' ? true : undefined;
    });
  });
});
