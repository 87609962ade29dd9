import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Device, Endpoint, Group, ImagingStudy, Patient, Reference, ServiceRequest } from '@medplum/fhirtypes';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { fhirDate, gender, humanName, issuerSystem } from '../mapping/fhir-values.js';
import { accessionIdentifier, deletedImagingStudy, studyIdentifierToken, toImagingStudy } from '../mapping/imaging-study.mapper.js';
import { wadoEndpoint, WADO_ENDPOINT_SYSTEM } from '../mapping/endpoint.mapper.js';
import type { StudySnapshot } from '../mapping/study-snapshot.js';
import { StudySnapshotRepository } from '../mapping/study-snapshot.repository.js';
import type { FhirDestination } from './fhir-destination.js';
import { FhirDestinationRepository } from './fhir-destination.repository.js';
import { FhirServerClient } from './fhir-server.client.js';
import type { FhirPublishPayload } from './study-change.repository.js';

interface Publication {
  content_hash: string;
  resource: ImagingStudy;
  remote_id: string | null;
}

/** The base URL of the archive's DICOMweb service, as EHRs and viewers reach it. */
export function wadoBaseUrl(config: VnaConfig): string {
  const host = config.bind === '0.0.0.0' || config.bind === '::' ? '127.0.0.1' : config.bind;
  return `${config.http.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${config.http.port}`}/dicomweb`;
}

/**
 * Publishes a study to one destination (the `fhir.publish` job): resolves the EHR's Patient (by
 * identifier, created when the destination says so), ServiceRequest (by accession, then placer
 * order number) and the archive's Endpoint, maps the study, and sends it as a conditional update
 * on its identifier, so that the EHR holds one ImagingStudy per study however often it is sent.
 * Idempotent: what was sent last is kept, and an unchanged resource is not sent again.
 */
@Injectable()
export class ImagingStudyPublisher {
  private readonly logger = new Logger('FhirPublisher');
  private readonly clients = new Map<string, { signature: string; client: FhirServerClient }>();
  private readonly endpoints = new Map<string, Reference<Endpoint>>();

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly destinations: FhirDestinationRepository,
    private readonly snapshots: StudySnapshotRepository,
  ) {}

  private client(d: FhirDestination): FhirServerClient {
    const signature = JSON.stringify([d.baseUrl, d.auth]);
    const cached = this.clients.get(d.key);
    if (cached?.signature === signature) return cached.client;
    const client = new FhirServerClient(d.baseUrl, d.auth, this.config.fhir.timeoutMs);
    this.clients.set(d.key, { signature, client });
    this.endpoints.delete(d.key);
    return client;
  }

  async publish(payload: FhirPublishPayload): Promise<'sent' | 'unchanged' | 'skipped'> {
    const destination = await this.destinations.find(payload.destination);
    if (!destination?.enabled) return 'skipped';
    const client = this.client(destination);
    const previous = await this.previous(payload.studyUid, destination.key);
    const study = (await this.snapshots.load([payload.studyUid])).get(payload.studyUid);
    let resource: ImagingStudy;
    if (!study) {
      // Deleted (retention): update what the EHR holds, if it holds anything.
      if (!previous || previous.resource.status === 'cancelled') return 'skipped';
      resource = deletedImagingStudy(previous.resource, new Date());
    } else {
      // Independent look-ups: in parallel, one round trip to the EHR instead of three.
      const [subject, basedOn, endpoint] = await Promise.all([this.subject(client, destination, study), this.basedOn(client, destination, study), this.endpoint(client, destination)]);
      resource = toImagingStudy(study, { subject, basedOn, endpoint, identifierSystems: destination.patientIdentifierSystems });
    }
    const hash = createHash('sha256').update(JSON.stringify(resource)).digest('hex');
    if (previous?.content_hash === hash) return 'unchanged';
    const saved = await client.conditionalUpdate(resource, { identifier: studyIdentifierToken(payload.studyUid) });
    await this.db.query(
      `INSERT INTO fhir_publication (study_uid, destination, remote_id, content_hash, resource) VALUES ($1, $2, $3, $4, $5::jsonb)
       ON CONFLICT (study_uid, destination) DO UPDATE SET remote_id = excluded.remote_id, content_hash = excluded.content_hash, resource = excluded.resource, published_at = now()`,
      [payload.studyUid, destination.key, saved.id ?? null, hash, JSON.stringify(resource)],
    );
    this.logger.log(`ImagingStudy for study ${payload.studyUid} sent to destination ${destination.key} (${resource.status}, ${resource.numberOfInstances ?? 0} instances)`);
    return 'sent';
  }

  private async previous(studyUid: string, destination: string): Promise<Publication | undefined> {
    const rows: Publication[] = await this.db.query(`SELECT content_hash, resource, remote_id FROM fhir_publication WHERE study_uid = $1 AND destination = $2`, [studyUid, destination]);
    return rows[0];
  }

  /** The EHR's Patient with the study's current identifier; created when the destination says so, else a logical reference. */
  private async subject(client: FhirServerClient, d: FhirDestination, study: StudySnapshot): Promise<Reference<Patient | Group | Device>> {
    const p = study.patient;
    const identifier = { system: issuerSystem(p.issuer, d.patientIdentifierSystems), value: p.patientId };
    const token = identifier.system ? `${identifier.system}|${identifier.value}` : identifier.value;
    const found = await client.search<Patient & { id: string; resourceType: 'Patient' }>('Patient', { identifier: token });
    if (found[0]) return { reference: `Patient/${found[0].id}` };
    if (!d.createPatients) return { identifier: identifier.system ? identifier : { value: identifier.value } };
    const name = humanName(p.name);
    const birthDate = fhirDate(p.birthDate);
    const created = await client.createIfNoneExist<Patient & { resourceType: 'Patient' }>(
      {
        resourceType: 'Patient',
        identifier: [identifier.system ? identifier : { value: identifier.value }],
        ...(name ? { name: [name] } : {}),
        gender: gender(p.sex),
        ...(birthDate ? { birthDate } : {}),
      },
      `identifier=${encodeURIComponent(token)}`,
    );
    return { reference: `Patient/${created.id}` };
  }

  /** The EHR's ServiceRequest with the study's accession number or placer order number, when there is exactly one. */
  private async basedOn(client: FhirServerClient, d: FhirDestination, study: StudySnapshot): Promise<Reference<ServiceRequest>[] | undefined> {
    const accession = study.accessionNumber?.trim() || study.order?.accessionNumber;
    const tokens: string[] = [];
    if (accession) {
      const id = accessionIdentifier(accession, study.accessionIssuer ?? study.order?.accessionIssuer ?? null, d.patientIdentifierSystems);
      if (id.system) tokens.push(`${id.system}|${accession}`);
      tokens.push(accession);
    }
    const placer = study.order?.placerOrderNumber;
    if (placer) {
      const system = study.order?.placerIssuer ? issuerSystem(study.order.placerIssuer, d.patientIdentifierSystems) : undefined;
      tokens.push(system ? `${system}|${placer}` : placer);
    }
    if (tokens.length === 0) return undefined;
    // One search, the identifiers ORed (FHIR R4 3.1.1.6, commas in values escaped).
    const found = await client.search<ServiceRequest & { id: string; resourceType: 'ServiceRequest' }>('ServiceRequest', { identifier: tokens.map((t) => t.replace(/,/g, '\\,')).join(',') });
    const ids = [...new Set(found.map((r) => r.id))];
    if (ids.length === 1) return [{ reference: `ServiceRequest/${ids[0]}` }];
    return undefined;
  }

  /** The archive's WADO-RS Endpoint in the EHR (created once, found by its address). */
  private async endpoint(client: FhirServerClient, d: FhirDestination): Promise<Reference<Endpoint>> {
    const cached = this.endpoints.get(d.key);
    if (cached) return cached;
    const body = wadoEndpoint(wadoBaseUrl(this.config));
    const created = await client.createIfNoneExist<Endpoint & { resourceType: 'Endpoint' }>(body, `identifier=${encodeURIComponent(`${WADO_ENDPOINT_SYSTEM}|${body.address}`)}`);
    const ref = { reference: `Endpoint/${created.id}` };
    this.endpoints.set(d.key, ref);
    return ref;
  }
}
