import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BlobServiceClient } from '@azure/storage-blob';
import { Tag } from '#vna/dicom';
import { RunningArchive } from '../support/archive-process.js';
import { dcmtk, type ToolResult } from '../support/dcmtk.js';
import { eventually, first, qido, sql, stowAll, syntheticInstance, TEST_UID_ROOT } from '../support/dicomweb.js';
import { multipartBodies } from '../support/fixtures.js';
import { testEnv } from '../support/test-env.js';

const R = `${TEST_UID_ROOT}.60`;

/**
 * The storage lifecycle through the running archive (Azurite behind it): a tiering policy set over
 * /api/v1 moves objects to Archive, QIDO says NEARLINE, WADO-RS answers 503 with Retry-After and
 * why while rehydration starts (Azurite rehydrates at once: the next request is served), C-GET
 * counts an archived object as a failed sub-operation; retention and its deletion workflow over
 * /api/v1, and a legal hold refusing deletion.
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
    const objects = (await (await archive.fetch(`/api/v1/lifecycle/studies/${studyA}`, { key: 'reader' })).json()) as { tier: string; availability: string }[];
    expect(objects).toEqual([expect.objectContaining({ tier: 'Archive', availability: 'NEARLINE' }), expect.objectContaining({ tier: 'Archive', availability: 'NEARLINE' })]);
    expect((await archive.fetch('/api/v1/lifecycle/studies/1.2.3.404', { key: 'reader' })).status).toBe(404);
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

  it('retention over /api/v1: a policy gives the expiry, HIM overrides it with a reason, the dry run lists it, a deletion is approved and leaves a tombstone', async () => {
    const send = (method: string, path: string, body?: unknown, key: 'admin' | 'reader' = 'admin') =>
      archive.fetch(path, { method, key, headers: body === undefined ? {} : { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    expect((await send('PUT', '/api/v1/retention/policies/keep-1-year', { retainYears: 1 })).status).toBe(200);
    expect((await send('PUT', '/api/v1/retention/policies/bad', { retainYears: -1 })).status).toBe(400);
    const computed = await json(await send('GET', `/api/v1/retention/studies/${studyB}`, undefined, 'reader'));
    expect(computed).toMatchObject({ studyUid: studyB, policyName: 'keep-1-year', frozen: false, held: false });
    expect(computed['expiresOn']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect((await send('PUT', `/api/v1/retention/studies/${studyB}`, { expiresOn: '2001-02-30x', reason: 'typo' })).status).toBe(400);
    expect((await send('PUT', `/api/v1/retention/studies/${studyB}`, { expiresOn: '2020-01-01' })).status).toBe(400);
    const overridden = await json(await send('PUT', `/api/v1/retention/studies/${studyB}`, { expiresOn: '2020-01-01', reason: 'duplicate of a study kept elsewhere' }));
    expect(overridden).toMatchObject({ expiresOn: '2020-01-01', frozen: true, overriddenBy: 'admin', overrideReason: 'duplicate of a study kept elsewhere' });
    const expired = (await (await send('GET', '/api/v1/retention/expired', undefined, 'reader')).json()) as { studyUid: string; objects: number }[];
    expect(expired.find((e) => e.studyUid === studyB)).toMatchObject({ objects: 1, held: false });
    // Both studies are older than a year (B by hand): both proposed; B is approved here, A meets a legal hold below.
    expect(await json(await send('POST', '/api/v1/lifecycle/jobs/retention'))).toMatchObject({ proposed: 2 });
    const proposals = (await (await send('GET', '/api/v1/retention/deletions?status=proposed', undefined, 'reader')).json()) as { id: string; studyUid: string }[];
    expect(proposals.map((p) => p.studyUid).sort()).toEqual([studyA, studyB]);
    const proposal = proposals.find((p) => p.studyUid === studyB);
    expect((await send('POST', `/api/v1/retention/deletions/${proposal!.id}/approve`, { reason: 'ok' }, 'reader')).status).toBe(403);
    const deleted = await json(await send('POST', `/api/v1/retention/deletions/${proposal!.id}/approve`, { reason: 'confirmed' }));
    expect(deleted).toMatchObject({ status: 'deleted', approvals: [{ by: 'admin', reason: 'confirmed' }] });
    expect(await qido(archive, `/dicomweb/studies?StudyInstanceUID=${studyB}`)).toEqual([]);
    const [tombstone] = (await (await send('GET', `/api/v1/retention/tombstones?studyUid=${studyB}`, undefined, 'reader')).json()) as { instances: { sopInstanceUid: string }[] }[];
    expect(tombstone!.instances.map((i) => i.sopInstanceUid)).toEqual([`${studyB}.1.1`]);
    // The worker deletes the blob once the deletion committed.
    const [key] = await sql<{ blob_key: string }>(archive, `SELECT instances->0->>'blobKey' AS blob_key FROM deletion_tombstone WHERE study_uid = $1`, [studyB]);
    await eventually('the blob deleted', async () => {
      const [open] = await sql<{ n: number }>(archive, `SELECT count(*)::int AS n FROM outbox WHERE topic = 'lifecycle.delete-blobs' AND done_at IS NULL`);
      return open!.n === 0 ? true : undefined;
    });
    const container = BlobServiceClient.fromConnectionString(testEnv().blobConnectionString).getContainerClient(archive.container);
    expect(await container.getBlobClient(key!.blob_key).exists()).toBe(false);
    expect(await container.getBlobClient((await sql<{ blob_key: string }>(archive, `SELECT blob_key FROM instance LIMIT 1`))[0]!.blob_key).exists()).toBe(true);
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
    // The retention proposal made before the hold: its approval finds the hold, nothing is deleted.
    const [pending] = ((await (await archive.fetch('/api/v1/retention/deletions?status=proposed', { key: 'reader' })).json()) as { id: string; studyUid: string }[]).filter((d) => d.studyUid === studyA);
    const blocked = await post(`/api/v1/retention/deletions/${pending!.id}/approve`, { reason: 'expired' });
    expect(blocked.status).toBe(409);
    expect(String((await json(blocked))['detail'])).toMatch(/CASE-E2E-1/);
    expect(await json(await archive.fetch(`/api/v1/retention/deletions/${pending!.id}`, { key: 'reader' }))).toMatchObject({ status: 'blocked' });
    expect(await qido(archive, `/dicomweb/studies?StudyInstanceUID=${studyA}`)).toHaveLength(1);
    expect(await json(await archive.fetch(`/api/v1/retention/studies/${studyA}`, { key: 'reader' }))).toMatchObject({ held: true });
    // The worker mirrors the hold to the store: Azurite has no legal holds, which readiness shows.
    await eventually('the hold mirrored', async () => {
      const body = await json(await archive.fetch('/health/ready'));
      return (body['checks'] as Record<string, { status: string }>)['legal-hold-mirror']?.status === 'degraded' ? true : undefined;
    });
  });
});
