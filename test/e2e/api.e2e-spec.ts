import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunningArchive } from '../support/archive-process.js';
import { dcmtk } from '../support/dcmtk.js';
import { qido, stow } from '../support/dicomweb.js';
import { fixtureJson, part10, writeFixture } from '../support/fixtures.js';

/** Every HTTP error is application/problem+json (RFC 9457) naming its status. */
async function expectProblem(res: Response, status: number): Promise<void> {
  const text = await res.text();
  expect({ status: res.status, type: res.headers.get('content-type'), body: JSON.parse(text) as unknown }).toEqual({
    status,
    type: expect.stringMatching(/^application\/problem\+json/),
    body: expect.objectContaining({ status, title: expect.any(String), detail: expect.any(String) }),
  });
}

/** A sample's value in Prometheus text format: the line of `name` whose labels include `labels`. */
function sample(metrics: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of metrics.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('administration API, operations endpoints and access control', () => {
  let archive: RunningArchive;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vna-api-'));
    archive = await RunningArchive.start({ label: 'api', env: { VNA_DICOM_NODES: 'CONFIGPACS@127.0.0.1:11113' } });
  });

  afterAll(async () => {
    await archive?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('serves /health/live, /health/ready and /metrics without a key', async () => {
    const live = await archive.fetch('/health/live', { key: null });
    expect(live.status).toBe(200);
    const ready = await archive.fetch('/health/ready', { key: null });
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { database: { status: 'up' }, redis: { status: 'up' }, blob: { status: 'up' } },
    });
    const metrics = await archive.fetch('/metrics', { key: null });
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toContain('# TYPE vna_instances_received_total counter');
    expect(text).toContain('# TYPE vna_ingest_duration_seconds histogram');
    expect(sample(text, 'vna_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('counts received instances and ingest latency in /metrics, by source and outcome', async () => {
    const json = fixtureJson('ct-ge-latin1');
    const file = part10(json);
    expect((await stow(archive, [file])).status).toBe(200);
    expect((await stow(archive, [file])).status).toBe(200); // a duplicate
    const path = writeFixture(join(work, 'in'), 'mr-siemens-utf8');
    const c = await dcmtk('storescu', ['-aet', 'CONFIGPACS', '-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), path]);
    expect(c.code).toBe(0);

    const text = await (await archive.fetch('/metrics', { key: null })).text();
    expect(sample(text, 'vna_instances_received_total', { source: 'stow', outcome: 'stored' })).toBe(1);
    expect(sample(text, 'vna_instances_received_total', { source: 'stow', outcome: 'duplicate' })).toBe(1);
    expect(sample(text, 'vna_instances_received_total', { source: 'dimse', outcome: 'stored' })).toBe(1);
    expect(sample(text, 'vna_bytes_received_total', { source: 'stow' })).toBe(2 * file.length);
    expect(sample(text, 'vna_ingest_duration_seconds_count', { source: 'stow' })).toBe(2);
    expect(sample(text, 'vna_ingest_duration_seconds_count', { source: 'dimse' })).toBe(1);
    expect(sample(text, 'vna_ingest_duration_seconds_bucket', { source: 'stow', le: '+Inf' })).toBe(2);
    expect(sample(text, 'vna_ingest_duration_seconds_sum', { source: 'stow' })).toBeGreaterThan(0);

    // A refused object is counted as a failure, not as received.
    expect((await stow(archive, [{ contentType: 'application/dicom', body: Buffer.from('garbage') }])).status).toBe(409);
    const after = await (await archive.fetch('/metrics', { key: null })).text();
    expect(sample(after, 'vna_instances_received_total', { source: 'stow', outcome: 'stored' })).toBe(1);
    expect(sample(after, 'vna_ingest_failures_total', { source: 'stow', reason: 'MALFORMED' })).toBe(1);
  });

  it('serves the OpenAPI description at /api/docs', async () => {
    const ui = await archive.fetch('/api/docs', { key: null });
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-type')).toMatch(/^text\/html/);
    const res = await archive.fetch('/api/docs-json', { key: null });
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { securitySchemes?: Record<string, { scheme?: string }> } };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/dicomweb/studies', '/api/v1/dicom-nodes', '/api/v1/dicom-nodes/{aet}', '/health/ready', '/metrics']));
    expect(Object.keys(doc.paths['/api/v1/dicom-nodes']!).sort()).toEqual(['get', 'post']);
    expect(Object.values(doc.components.securitySchemes ?? {}).map((s) => s.scheme)).toContain('bearer');
  });

  it('answers 401 with WWW-Authenticate without a valid key, 403 for a role too weak, 404 for no such route', async () => {
    for (const path of ['/dicomweb/studies', '/dicomweb/studies/1.2.3/metadata', '/api/v1/dicom-nodes']) {
      const none = await archive.fetch(path, { key: null });
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      await expectProblem(none, 401);
      const wrong = await fetch(`${archive.baseUrl}${path}`, { headers: { Authorization: 'Bearer test-admin-key-0123456789abcdeX' } });
      expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer/);
      await expectProblem(wrong, 401);
    }
    await expectProblem(await archive.fetch('/api/v1/dicom-nodes', { method: 'POST', key: 'writer', headers: { 'Content-Type': 'application/json' }, body: '{}' }), 403);
    await expectProblem(await archive.fetch('/api/v1/no-such-thing', { key: 'admin' }), 404);
  });

  it('lists dead letters and refuses to replay what is not one (admin only)', async () => {
    expect((await archive.fetch('/api/v1/dead-letters', { key: 'reader' })).status).toBe(403);
    const list = await archive.fetch('/api/v1/dead-letters');
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual([]);
    const missing = await archive.fetch('/api/v1/dead-letters/999999/replay', { method: 'POST' });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    expect((await archive.fetch('/api/v1/dead-letters/abc/replay', { method: 'POST' })).status).toBe(400);
  });

  describe('/api/v1/dicom-nodes', () => {
    const post = (body: unknown, key: 'admin' | 'writer' | 'reader' | null = 'admin') =>
      archive.fetch('/api/v1/dicom-nodes', { method: 'POST', key, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const list = async (): Promise<{ aet: string; host: string; port: number; source: string }[]> => {
      const res = await archive.fetch('/api/v1/dicom-nodes', { key: 'reader' });
      expect(res.status).toBe(200);
      return (await res.json()) as { aet: string; host: string; port: number; source: string }[];
    };

    it('lists the nodes of VNA_DICOM_NODES to any role', async () => {
      expect(await list()).toEqual([expect.objectContaining({ aet: 'CONFIGPACS', host: '127.0.0.1', port: 11113, source: 'config' })]);
    });

    it('adds a node (admin only) and refuses bad or duplicate ones', async () => {
      await expectProblem(await post({ aet: 'NEWPACS', host: '10.0.0.5', port: 104 }, 'reader'), 403);
      await expectProblem(await post({ aet: 'NEWPACS', host: '10.0.0.5', port: 104 }, 'writer'), 403);
      await expectProblem(await post({ aet: 'NEWPACS', host: '10.0.0.5', port: 104 }, null), 401);
      const added = await post({ aet: 'NEWPACS', host: '10.0.0.5', port: 104, description: 'reading room' });
      expect(added.status).toBe(201);
      expect(await added.json()).toMatchObject({ aet: 'NEWPACS', host: '10.0.0.5', port: 104, description: 'reading room', source: 'api' });
      expect((await list()).map((n) => n.aet)).toEqual(['CONFIGPACS', 'NEWPACS']);

      for (const bad of [
        { aet: 'BAD\\AET', host: 'h', port: 104 },
        { aet: 'SEVENTEEN-CHARSXX', host: 'h', port: 104 },
        { aet: '    ', host: 'h', port: 104 },
        { aet: '', host: 'h', port: 104 },
        { aet: 'OK', host: 'h', port: 70000 },
        { aet: 'OK', host: 'h', port: '104' },
        { aet: 'OK', port: 104 },
        { aet: 'OK', host: 'two words', port: 104 },
        { aet: 'OK', host: 'h', port: 104, role: 'admin' },
      ]) {
        const res = await post(bad);
        expect({ bad, status: res.status }).toEqual({ bad, status: 400 });
        await expectProblem(res, 400);
      }
      await expectProblem(
        await archive.fetch('/api/v1/dicom-nodes', { method: 'POST', key: 'admin', headers: { 'Content-Type': 'application/json' }, body: '{"aet": ' }),
        400,
      );
      await expectProblem(await post({ aet: 'NEWPACS', host: '10.0.0.6', port: 105 }), 409);
      await expectProblem(await post({ aet: 'CONFIGPACS', host: '10.0.0.6', port: 105 }), 409);
      expect((await list()).map((n) => n.aet)).toEqual(['CONFIGPACS', 'NEWPACS']);
    });

    it('removes a node (admin only); one from VNA_DICOM_NODES cannot be removed', async () => {
      await expectProblem(await archive.fetch('/api/v1/dicom-nodes/NEWPACS', { method: 'DELETE', key: 'reader' }), 403);
      await expectProblem(await archive.fetch('/api/v1/dicom-nodes/CONFIGPACS', { method: 'DELETE', key: 'admin' }), 409);
      const removed = await archive.fetch('/api/v1/dicom-nodes/NEWPACS', { method: 'DELETE', key: 'admin' });
      expect(removed.status).toBe(204);
      await expectProblem(await archive.fetch('/api/v1/dicom-nodes/NEWPACS', { method: 'DELETE', key: 'admin' }), 404);
      expect((await list()).map((n) => n.aet)).toEqual(['CONFIGPACS']);
    });
  });
});

describe('production profile (NODE_ENV=production)', () => {
  let archive: RunningArchive;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vna-prod-'));
    archive = await RunningArchive.start({ label: 'production', env: { NODE_ENV: 'production', VNA_DICOM_NODES: 'KNOWNSCU@127.0.0.1:11114' } });
  });

  afterAll(async () => {
    await archive?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  const echo = (aet: string) => dcmtk('echoscu', ['-aet', aet, '-aec', 'VNA', '127.0.0.1', String(archive.dicomPort)]);

  it('rejects an association from an unknown calling AE (A-ASSOCIATE-RJ, calling AE not recognized)', async () => {
    const r = await echo('UNKNOWN');
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Association Rejected/);
    expect(r.stdout + r.stderr).toMatch(/Calling AE Title Not Recognized/);

    const path = writeFixture(join(work, 'in'), 'ct-ge-latin1');
    const store = await dcmtk('storescu', ['-aet', 'UNKNOWN', '-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), path]);
    expect(store.code).not.toBe(0);
    expect(await qido(archive, '/dicomweb/instances')).toEqual([]);
  });

  it('accepts a calling AE listed in VNA_DICOM_NODES', async () => {
    const r = await echo('KNOWNSCU');
    expect({ code: r.code, errors: r.stderr }).toEqual({ code: 0, errors: '' });
  });

  it('accepts a calling AE added through /api/v1/dicom-nodes, and rejects it again once removed', async () => {
    const added = await archive.fetch('/api/v1/dicom-nodes', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ aet: 'LATECOMER', host: '127.0.0.1', port: 11115 }),
    });
    expect(added.status).toBe(201);
    expect((await echo('LATECOMER')).code).toBe(0);
    expect((await archive.fetch('/api/v1/dicom-nodes/LATECOMER', { method: 'DELETE' })).status).toBe(204);
    const again = await echo('LATECOMER');
    expect(again.code).not.toBe(0);
    expect(again.stdout + again.stderr).toMatch(/Calling AE Title Not Recognized/);
  });

  it('still needs a key for everything but health and metrics', async () => {
    expect((await archive.fetch('/health/ready', { key: null })).status).toBe(200);
    await expectProblem(await archive.fetch('/dicomweb/studies', { key: null }), 401);
  });
});
