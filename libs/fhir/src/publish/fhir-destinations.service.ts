import { Injectable } from '@nestjs/common';
import type { FhirAuth } from '#vna/config';
import { parseIdentifierSystems } from '#vna/config';
import { FhirError } from '../fhir.errors.js';
import { type FhirDestination, redacted } from './fhir-destination.js';
import { type DestinationInput, FhirDestinationRepository } from './fhir-destination.repository.js';
import type { FhirDestinationDto } from './fhir-destinations.dto.js';

const DEFAULT_SCOPE = 'system/ImagingStudy.write system/Patient.read system/ServiceRequest.read system/Endpoint.write';

/** /api/v1/fhir-destinations: where ImagingStudy goes, besides VNA_FHIR_PUBLISH_URL. */
@Injectable()
export class FhirDestinationsService {
  constructor(private readonly repo: FhirDestinationRepository) {}

  async list(): Promise<ReturnType<typeof redacted>[]> {
    return (await this.repo.list()).map(redacted);
  }

  async get(id: string): Promise<ReturnType<typeof redacted>> {
    return redacted(await this.repo.get(id));
  }

  async create(dto: FhirDestinationDto): Promise<ReturnType<typeof redacted>> {
    return redacted(await this.repo.create(toInput(dto)));
  }

  async update(id: string, dto: FhirDestinationDto): Promise<ReturnType<typeof redacted>> {
    return redacted(await this.repo.update(id, toInput(dto)));
  }

  remove(id: string): Promise<void> {
    return this.repo.remove(id);
  }
}

function toInput(dto: FhirDestinationDto): DestinationInput {
  const problems: string[] = [];
  const systems = parseIdentifierSystems(
    Object.entries(dto.patientIdentifierSystems ?? {})
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(','),
    problems,
    'patientIdentifierSystems',
  );
  if (problems.length) throw new FhirError('invalid', problems.join('; '));
  return {
    name: dto.name,
    baseUrl: dto.baseUrl.replace(/\/+$/, ''),
    auth: toAuth(dto.auth),
    patientIdentifierSystems: systems,
    createPatients: dto.createPatients ?? false,
    enabled: dto.enabled ?? true,
  };
}

function toAuth(a: FhirDestinationDto['auth']): FhirAuth {
  if (!a || a.kind === 'none') return { kind: 'none' };
  if (a.kind === 'bearer') {
    if (!a.token) throw new FhirError('invalid', 'auth.token is required for bearer authentication');
    return { kind: 'bearer', token: a.token };
  }
  if (!a.tokenUrl || !a.clientId || (!a.clientSecret && !a.privateKeyFile)) {
    throw new FhirError('invalid', 'SMART authentication needs auth.tokenUrl, auth.clientId and auth.clientSecret or auth.privateKeyFile');
  }
  return { kind: 'smart', tokenUrl: a.tokenUrl, clientId: a.clientId, clientSecret: a.clientSecret, privateKeyFile: a.privateKeyFile, scope: a.scope ?? DEFAULT_SCOPE };
}

export type { FhirDestination };
