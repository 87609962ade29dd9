import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { type FhirAuth, VNA_CONFIG, type VnaConfig } from '#vna/config';
import { FhirError } from '../fhir.errors.js';
import { ENV_DESTINATION, type FhirDestination } from './fhir-destination.js';

interface Row {
  id: string;
  name: string;
  base_url: string;
  auth: FhirAuth;
  patient_identifier_systems: Record<string, string>;
  create_patients: boolean;
  enabled: boolean;
}

export type DestinationInput = Omit<FhirDestination, 'key' | 'source'>;

const toDestination = (r: Row): FhirDestination => ({
  key: String(r.id),
  name: r.name,
  baseUrl: r.base_url,
  auth: r.auth,
  patientIdentifierSystems: r.patient_identifier_systems,
  createPatients: r.create_patients,
  enabled: r.enabled,
  source: 'api',
});

/** Destinations: the configured one (VNA_FHIR_PUBLISH_URL, read-only) and those kept in the database. */
@Injectable()
export class FhirDestinationRepository {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
  ) {}

  private configured(): FhirDestination | undefined {
    const p = this.config.fhir.publish;
    if (!p) return undefined;
    return {
      key: ENV_DESTINATION,
      name: 'VNA_FHIR_PUBLISH_URL',
      baseUrl: p.url,
      auth: p.auth,
      patientIdentifierSystems: this.config.fhir.patientIdentifierSystems,
      createPatients: this.config.fhir.createPatients,
      enabled: true,
      source: 'config',
    };
  }

  async list(): Promise<FhirDestination[]> {
    const rows: Row[] = await this.db.query(`SELECT * FROM fhir_destination ORDER BY id`);
    const env = this.configured();
    return [...(env ? [env] : []), ...rows.map(toDestination)];
  }

  async enabledKeys(): Promise<string[]> {
    return (await this.list()).filter((d) => d.enabled).map((d) => d.key);
  }

  async find(key: string): Promise<FhirDestination | undefined> {
    if (key === ENV_DESTINATION) return this.configured();
    if (!/^\d{1,18}$/.test(key)) return undefined;
    const rows: Row[] = await this.db.query(`SELECT * FROM fhir_destination WHERE id = $1`, [key]);
    return rows[0] ? toDestination(rows[0]) : undefined;
  }

  async get(key: string): Promise<FhirDestination> {
    const d = await this.find(key);
    if (!d) throw new FhirError('not-found', `no FHIR destination ${key}`);
    return d;
  }

  async create(input: DestinationInput): Promise<FhirDestination> {
    try {
      const rows: Row[] = await this.db.query(
        `INSERT INTO fhir_destination (name, base_url, auth, patient_identifier_systems, create_patients, enabled)
         VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6) RETURNING *`,
        [input.name, input.baseUrl, JSON.stringify(input.auth), JSON.stringify(input.patientIdentifierSystems), input.createPatients, input.enabled],
      );
      return toDestination(rows[0]!);
    } catch (e) {
      throw uniqueName(e, input.name);
    }
  }

  async update(key: string, input: DestinationInput): Promise<FhirDestination> {
    if (key === ENV_DESTINATION) throw new FhirError('conflict', 'the destination of VNA_FHIR_PUBLISH_URL is configured by the environment');
    await this.get(key);
    try {
      const rows: Row[] = await this.db.query(
        `UPDATE fhir_destination SET name = $2, base_url = $3, auth = $4::jsonb, patient_identifier_systems = $5::jsonb, create_patients = $6, enabled = $7, updated_at = now()
          WHERE id = $1 RETURNING *`,
        [key, input.name, input.baseUrl, JSON.stringify(input.auth), JSON.stringify(input.patientIdentifierSystems), input.createPatients, input.enabled],
      );
      return toDestination(rows[0]!);
    } catch (e) {
      throw uniqueName(e, input.name);
    }
  }

  async remove(key: string): Promise<void> {
    if (key === ENV_DESTINATION) throw new FhirError('conflict', 'the destination of VNA_FHIR_PUBLISH_URL is configured by the environment');
    await this.get(key);
    await this.db.query(`DELETE FROM fhir_destination WHERE id = $1`, [key]);
    await this.db.query(`DELETE FROM fhir_publication WHERE destination = $1`, [key]);
  }
}

function uniqueName(e: unknown, name: string): unknown {
  return (e as { code?: string }).code === '23505' ? new FhirError('conflict', `a FHIR destination named "${name}" exists`) : e;
}
