import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { Resource } from '@medplum/fhirtypes';
import type { FhirApiRequest } from './fhir-api.service.js';
import { toOperationOutcome } from './operation-outcome.js';

export const FHIR_BASE_PATH = '/fhir/R4';
const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** An HTTP request as the protocol core takes it; the base URL from VNA_PUBLIC_URL or the request's Host. */
export function toFhirRequest(req: IncomingMessage, publicUrl: string | undefined): FhirApiRequest {
  const url = new URL(req.url ?? '/', 'http://local');
  const base = publicUrl ? `${publicUrl}${FHIR_BASE_PATH}` : `http://${req.headers.host ?? 'localhost'}${FHIR_BASE_PATH}`;
  const query: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) (query[k] ??= []).push(v);
  const path = url.pathname.slice(FHIR_BASE_PATH.length).split('/').filter(Boolean).map(decodeURIComponent);
  return { method: req.method ?? 'GET', path, query, baseUrl: base };
}

export function sendFhir(res: ServerResponse, status: number, resource: Resource, head = false): void {
  const body = JSON.stringify(resource);
  res.writeHead(status, { 'Content-Type': FHIR_JSON, 'Content-Length': Buffer.byteLength(body).toString() });
  res.end(head ? undefined : body);
}

/** Every error under /fhir/R4, access control included, leaves as an OperationOutcome (one mapper). */
@Catch()
export class OperationOutcomeFilter implements ExceptionFilter {
  private readonly logger = new Logger('FHIR');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ServerResponse>();
    const { status, outcome } = toOperationOutcome(exception);
    if (status >= 500) this.logger.error(`${(exception as Error).stack ?? String(exception)}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    sendFhir(res, status, outcome);
  }
}
