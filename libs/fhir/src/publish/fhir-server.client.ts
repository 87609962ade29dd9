import { createSign, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, type FhirResource } from 'fhir-kit-client';

/** Any FHIR resource (the medplum types lack fhir-kit-client's index signature). */
type AnyResource = { resourceType: string };
import type { FhirAuth } from '#vna/config';
import { FhirDeliveryError } from '../fhir.errors.js';

/** Statuses worth retrying as they are (RFC 9110; 429 RFC 6585). */
const TRANSIENT = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Turns anything fhir-kit-client or fetch throws into a classified FhirDeliveryError. */
export function classify(e: unknown, what: string): FhirDeliveryError {
  if (e instanceof FhirDeliveryError) return e;
  const status = (e as { response?: { status?: number } }).response?.status;
  if (typeof status === 'number') {
    const outcome = (e as { response?: { data?: { issue?: { diagnostics?: string; details?: { text?: string } }[] } } }).response?.data?.issue?.[0];
    const why = outcome?.diagnostics ?? outcome?.details?.text ?? '';
    return new FhirDeliveryError(TRANSIENT.has(status) ? 'transient' : 'permanent', `${what}: HTTP ${status}${why ? ` (${why.slice(0, 300)})` : ''}`, status);
  }
  const name = (e as Error).name;
  if (name === 'TimeoutError' || name === 'AbortError') return new FhirDeliveryError('transient', `${what}: no answer in time`);
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return new FhirDeliveryError('transient', `${what}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
}

/**
 * One FHIR server as the publisher talks to it: fhir-kit-client with a time limit on every request
 * (it has none), errors classified, and authentication (a fixed bearer token, or SMART Backend
 * Services' client credentials grant, https://hl7.org/fhir/smart-app-launch/backend-services.html,
 * with a client secret or a private key JWT signed RS384; the token kept until shortly before it expires).
 */
export class FhirServerClient {
  private readonly client: Client;
  private token?: { value: string; until: number };

  constructor(
    readonly baseUrl: string,
    private readonly auth: FhirAuth,
    private readonly timeoutMs: number,
  ) {
    this.client = new Client({ baseUrl, ...(auth.kind === 'bearer' ? { bearerToken: auth.token } : {}) });
  }

  private async authorize(): Promise<void> {
    if (this.auth.kind !== 'smart') return;
    if (this.token && this.token.until > Date.now()) return;
    const a = this.auth;
    const form = new URLSearchParams({ grant_type: 'client_credentials', scope: a.scope });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (a.privateKeyFile) {
      form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      form.set('client_assertion', clientAssertion(a.clientId, a.tokenUrl, readFileSync(a.privateKeyFile, 'utf8')));
    } else {
      headers['authorization'] = `Basic ${Buffer.from(`${encodeURIComponent(a.clientId)}:${encodeURIComponent(a.clientSecret ?? '')}`).toString('base64')}`;
    }
    let res: Response;
    try {
      res = await fetch(a.tokenUrl, { method: 'POST', headers, body: form, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      throw classify(e, 'token request');
    }
    const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number };
    if (!res.ok || !body.access_token) {
      throw new FhirDeliveryError(TRANSIENT.has(res.status) ? 'transient' : 'permanent', `token request: HTTP ${res.status}`, res.status);
    }
    const lifetime = Math.max(10, (body.expires_in ?? 300) - 30) * 1000;
    this.token = { value: body.access_token, until: Date.now() + lifetime };
    this.client.bearerToken = body.access_token;
  }

  private async call<T>(what: string, run: (options: { signal: AbortSignal; headers?: Record<string, string> }) => Promise<unknown>, headers?: Record<string, string>): Promise<T> {
    await this.authorize();
    try {
      return (await run({ signal: AbortSignal.timeout(this.timeoutMs), ...(headers ? { headers } : {}) })) as T;
    } catch (e) {
      const error = classify(e, what);
      // An expired or revoked token: the next attempt asks for a new one.
      if (error.status === 401) this.token = undefined;
      throw error;
    }
  }

  /** Type-level search; the resources of the Bundle's match entries. */
  async search<T extends AnyResource>(resourceType: string, searchParams: Record<string, string>): Promise<T[]> {
    const bundle = await this.call<{ entry?: { resource?: T; search?: { mode?: string } }[] }>(`search ${resourceType}`, (options) =>
      this.client.search({ resourceType, searchParams, options }),
    );
    return (bundle.entry ?? []).filter((e) => e.resource && e.search?.mode !== 'include' && e.resource.resourceType === resourceType).map((e) => e.resource!);
  }

  /** Conditional create (FHIR R4 3.1.0.8): the existing match, or the resource created. */
  async createIfNoneExist<T extends AnyResource>(body: T, criteria: string): Promise<T & { id: string }> {
    return this.call(`create ${body.resourceType}`, (options) => this.client.create({ resourceType: body.resourceType, body: body as unknown as FhirResource, options }), { 'If-None-Exist': criteria });
  }

  /** Conditional update (FHIR R4 3.1.0.4.3): one resource per criteria, however often it is sent. */
  async conditionalUpdate<T extends AnyResource>(body: T, searchParams: Record<string, string>): Promise<T & { id: string }> {
    return this.call(`update ${body.resourceType}`, (options) => this.client.update({ resourceType: body.resourceType, searchParams, body: body as unknown as FhirResource, options }));
  }
}

/** A SMART Backend Services client assertion: a JWT signed RS384, valid five minutes. */
export function clientAssertion(clientId: string, tokenUrl: string, privateKeyPem: string): string {
  const b64 = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'RS384', typ: 'JWT' })}.${b64({ iss: clientId, sub: clientId, aud: tokenUrl, exp: now + 300, jti: randomUUID() })}`;
  const signature = createSign('RSA-SHA384').update(input).sign(privateKeyPem).toString('base64url');
  return `${input}.${signature}`;
}
