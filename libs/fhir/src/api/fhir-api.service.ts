import { Inject, Injectable } from '@nestjs/common';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { SqlParams } from '#vna/archive';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { FhirError } from '../fhir.errors.js';
import { wadoEndpoint, WADO_ENDPOINT_ID } from '../mapping/endpoint.mapper.js';
import { systemIssuer } from '../mapping/fhir-values.js';
import { accessionIdentifier, DICOM_DCM, DICOM_UID_SYSTEM, toImagingStudy } from '../mapping/imaging-study.mapper.js';
import { toPatient } from '../mapping/patient.mapper.js';
import { REQUEST_STATUS, toServiceRequest } from '../mapping/service-request.mapper.js';
import { StudySnapshotRepository } from '../mapping/study-snapshot.repository.js';
import { wadoBaseUrl } from '../publish/imaging-study.publisher.js';
import { capabilityStatement, IMAGING_STUDY_SEARCH, PATIENT_SEARCH, SERVICE_REQUEST_SEARCH } from './capability-statement.js';
import { FhirSearchRepository } from './fhir-search.repository.js';
import { dateCondition, orValues, parseDate, parseReference, parseToken, parseValueToken } from './search-values.js';

/** FHIR R4 request-status (https://hl7.org/fhir/R4/valueset-request-status.html). */
const REQUEST_STATUS_CODES: readonly string[] = ['draft', 'active', 'on-hold', 'revoked', 'completed', 'entered-in-error', 'unknown'];

/** One FHIR request, without HTTP: the path below the base, the query, and the base URL for links. */
export interface FhirApiRequest {
  readonly method: string;
  /** e.g. ['ImagingStudy'], ['Patient', 'r12'], ['metadata']. */
  readonly path: readonly string[];
  readonly query: Readonly<Record<string, string | readonly string[]>>;
  /** Absolute base of the API (…/fhir/R4), for fullUrl and paging links. */
  readonly baseUrl: string;
}

export interface FhirApiResponse {
  readonly status: number;
  readonly resource: Resource;
}

const DEFAULT_COUNT = 50;
const MAX_COUNT = 1000;
/** Parameters every search takes besides its own. */
const COMMON = new Set(['_count', '_offset', '_format', '_include']);

/**
 * The archive's FHIR R4 API (read-only), independent of HTTP (medplum's fhir-router idea): one
 * request in, one resource out; errors are FhirErrors that the edge turns into OperationOutcome.
 */
@Injectable()
export class FhirApiService {
  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly search: FhirSearchRepository,
    private readonly snapshots: StudySnapshotRepository,
  ) {}

  private get systems(): Readonly<Record<string, string>> {
    return this.config.fhir.patientIdentifierSystems;
  }

  async handle(req: FhirApiRequest): Promise<FhirApiResponse> {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new FhirError('not-supported', `${req.method} is not supported: this FHIR API is read-only`);
    const [type, id, ...rest] = req.path;
    if (rest.length > 0 || !type) throw new FhirError('not-found', `no such FHIR path /${req.path.join('/')}`);
    if (type === 'metadata' && id === undefined) return { status: 200, resource: capabilityStatement(req.baseUrl, { name: 'vna', version: '0.1.0' }) };
    const format = single(req.query, '_format');
    if (format && !/json/.test(format)) throw new FhirError('not-supported', `_format ${format} is not supported (JSON only)`);
    switch (type) {
      case 'ImagingStudy':
        return { status: 200, resource: id === undefined ? await this.searchStudies(req) : await this.readStudy(id) };
      case 'Patient':
        return { status: 200, resource: id === undefined ? await this.searchPatients(req) : await this.readPatient(id) };
      case 'ServiceRequest':
        return { status: 200, resource: id === undefined ? await this.searchOrders(req) : await this.readOrder(id) };
      case 'Endpoint':
        if (id === undefined) throw new FhirError('not-supported', 'Endpoint supports read only');
        if (id !== WADO_ENDPOINT_ID) throw new FhirError('not-found', `Endpoint/${id} is not known`);
        return { status: 200, resource: this.endpoint() };
      default:
        throw new FhirError('not-supported', `resource type ${type} is not supported (see /metadata)`);
    }
  }

  private endpoint(): Resource {
    return wadoEndpoint(wadoBaseUrl(this.config), WADO_ENDPOINT_ID);
  }

  private async studies(uids: readonly string[]): Promise<Resource[]> {
    const snapshots = await this.snapshots.load(uids);
    return uids
      .map((uid) => snapshots.get(uid))
      .filter((s) => s !== undefined)
      .map((s) =>
        toImagingStudy(s, {
          id: s.studyUid,
          subject: { reference: `Patient/${s.patient.registryId ? `r${s.patient.registryId}` : `p${s.patient.rowId}`}` },
          endpoint: { reference: `Endpoint/${WADO_ENDPOINT_ID}` },
          basedOn: s.order
            ? [{ reference: `ServiceRequest/${s.order.id}`, type: 'ServiceRequest', identifier: accessionIdentifier(s.order.accessionNumber, s.order.accessionIssuer || null, this.systems) }]
            : undefined,
          identifierSystems: this.systems,
        }),
      );
  }

  private async readStudy(id: string): Promise<Resource> {
    const [study] = /^[0-9.]{1,64}$/.test(id) ? await this.studies([id]) : [];
    if (!study) throw new FhirError('not-found', `ImagingStudy/${id} is not known`);
    return study;
  }

  private async readPatient(id: string): Promise<Resource> {
    const [record] = await this.search.patientRecords([id]);
    if (!record) throw new FhirError('not-found', `Patient/${id} is not known`);
    return toPatient(record, this.systems);
  }

  private async searchStudies(req: FhirApiRequest): Promise<Bundle> {
    const { count, offset, include } = paging(req.query, IMAGING_STUDY_SEARCH, 'ImagingStudy:endpoint');
    const p = new SqlParams();
    const where = conditions(req.query, (name, values) => this.studyCondition(name, values, p));
    const page = await this.search.studies(where, p, count, offset);
    const resources = await this.studies(page.items);
    const included = include && resources.length ? [this.endpoint()] : [];
    return bundle(req, page.total, count, offset, resources, included);
  }

  /** One parameter occurrence (its comma-separated values ORed). */
  private studyCondition(name: string, values: readonly string[], p: SqlParams): string {
    switch (name) {
      case '_id':
        return `s.study_uid = ANY(${p.add(values)}::text[])`;
      case 'identifier':
        return anyOf(
          values.map((v) => {
            const t = parseValueToken(v, 'identifier');
            const uid = t.code.replace(/^urn:oid:/, '');
            if (t.system === DICOM_UID_SYSTEM) return `s.study_uid = ${p.add(uid)}`;
            if (t.system === undefined) return `(s.study_uid = ${p.add(uid)} OR s.accession_number = ${p.add(t.code)})`;
            return `s.accession_number = ${p.add(t.code)}`;
          }),
        );
      case 'patient':
      case 'subject':
        return anyOf(values.map((v) => this.subjectCondition(parseReference(v, 'Patient'), p)));
      case 'patient.identifier':
      case 'patient:identifier':
      case 'subject:identifier':
        return anyOf(
          values.map((v) => {
            const t = parseValueToken(v, name);
            const value = p.add(t.code);
            const issuer = t.system === undefined ? undefined : p.add(systemIssuer(t.system, this.systems));
            // Any identifier of the patient, also one of a patient since merged into it (an old MRN still finds the studies).
            // The few patient rows first (uncorrelated, by index), then their studies: not a test of every study's patient.
            return `p.id IN (SELECT q.id FROM patient q WHERE q.current_patient_id = ${value}${issuer ? ` AND q.current_issuer = ${issuer}` : ''}
              UNION SELECT q.id FROM registry_identifier ri1
                      JOIN registry_identifier ri2 ON ri2.registry_patient_fk IN (ri1.registry_patient_fk, registry_survivor(ri1.registry_patient_fk))
                      JOIN patient q ON q.current_patient_id = ri2.patient_id AND q.current_issuer = ri2.issuer
                     WHERE ri1.patient_id = ${value}${issuer ? ` AND ri1.issuer = ${issuer}` : ''})`;
          }),
        );
      case 'started':
        return anyOf(values.map((v) => dateCondition('s.study_date', parseDate(v), (x) => p.add(x))));
      case 'modality': {
        const codes = values.map((v) => {
          const t = parseToken(v);
          if (t.system !== undefined && t.system !== DICOM_DCM) throw new FhirError('invalid', `modality codes are of ${DICOM_DCM} ("${v}")`);
          if (t.code === undefined) throw new FhirError('invalid', `modality needs a code ("${v}")`);
          return t.code;
        });
        return `EXISTS (SELECT 1 FROM series se WHERE se.study_fk = s.id AND se.modality = ANY(${p.add(codes)}::text[]))`;
      }
      case 'status': {
        const codes = values.map((v) => parseToken(v).code ?? '');
        const available = `EXISTS (SELECT 1 FROM series se JOIN instance i ON i.series_fk = se.id AND i.is_current WHERE se.study_fk = s.id)`;
        const parts = codes.map((c) => {
          if (c === 'available') return available;
          if (c === 'entered-in-error') return `NOT ${available}`;
          if (['registered', 'cancelled', 'unknown'].includes(c)) return 'false';
          throw new FhirError('invalid', `"${c}" is not an ImagingStudy status`);
        });
        return anyOf(parts);
      }
      case 'basedon': {
        // The studies linked to these orders (index order_study_link_order), not a test of every study's link.
        const ids = values.map((v) => parseReference(v, 'ServiceRequest')).filter((id): id is string => id !== undefined && /^\d{1,18}$/.test(id));
        return ids.length ? `s.id IN (SELECT l.study_fk FROM order_study_link l WHERE l.order_fk = ANY(${p.add(ids)}::bigint[]))` : 'false';
      }
      case 'basedon:identifier':
        return anyOf(
          values.map((v) => {
            const t = parseValueToken(v, 'basedon:identifier');
            const value = p.add(t.code);
            return `(s.accession_number = ${value} OR EXISTS (SELECT 1 FROM order_study_link l JOIN imaging_order o ON o.id = l.order_fk
                      WHERE l.study_fk = s.id AND (o.accession_number = ${value} OR o.placer_order_number = ${value})))`;
          }),
        );
      case 'endpoint':
        return anyOf(values.map((v) => (parseReference(v, 'Endpoint') === WADO_ENDPOINT_ID ? 'true' : 'false')));
      default:
        throw new FhirError('invalid', `ImagingStudy search parameter ${name} is not supported (see /metadata)`);
    }
  }

  /** Studies whose current patient is `fid` (r<registry id>: any of its identifiers; p<index id>: its identity). */
  private subjectCondition(fid: string | undefined, p: SqlParams): string {
    if (fid && /^r\d{1,18}$/.test(fid)) {
      return `EXISTS (SELECT 1 FROM registry_identifier ri WHERE ri.registry_patient_fk = ${p.add(fid.slice(1))} AND ri.patient_id = p.current_patient_id AND ri.issuer = p.current_issuer)`;
    }
    if (fid && /^p\d{1,18}$/.test(fid)) {
      return `EXISTS (SELECT 1 FROM patient q WHERE q.id = ${p.add(fid.slice(1))} AND q.current_patient_id = p.current_patient_id AND q.current_issuer = p.current_issuer)`;
    }
    return 'false';
  }

  private async readOrder(id: string): Promise<Resource> {
    const [order] = await this.search.orderRecords([id], this.config.identity.defaultPatientIdIssuer);
    if (!order) throw new FhirError('not-found', `ServiceRequest/${id} is not known`);
    return toServiceRequest(order, this.systems);
  }

  private async searchOrders(req: FhirApiRequest): Promise<Bundle> {
    const { count, offset } = paging(req.query, SERVICE_REQUEST_SEARCH);
    const p = new SqlParams();
    const where = conditions(req.query, (name, values) => this.orderCondition(name, values, p));
    const page = await this.search.orders(where, p, count, offset);
    const orders = await this.search.orderRecords(page.items, this.config.identity.defaultPatientIdIssuer);
    return bundle(req, page.total, count, offset, orders.map((o) => toServiceRequest(o, this.systems)), []);
  }

  /** One ServiceRequest parameter occurrence over `imaging_order o` (its comma-separated values ORed). */
  private orderCondition(name: string, values: readonly string[], p: SqlParams): string {
    switch (name) {
      case '_id':
        return `o.id = ANY(${p.add(values.filter((v) => /^\d{1,18}$/.test(v)))}::bigint[])`;
      case 'identifier':
        // Accession (ACSN), placer (PLAC) or filler (FILL) order number; a system names the number's issuer.
        return anyOf(
          values.map((v) => {
            const t = parseValueToken(v, 'identifier');
            const value = p.add(t.code);
            if (t.system === undefined) return `(o.accession_number = ${value} OR o.placer_order_number = ${value} OR o.filler_order_number = ${value})`;
            const issuer = p.add(t.system === '' ? '' : systemIssuer(t.system, this.systems));
            return `((o.accession_number = ${value} AND o.accession_issuer = ${issuer}) OR (o.placer_order_number = ${value} AND o.placer_issuer = ${issuer})
                     OR (o.filler_order_number = ${value} AND o.filler_issuer = ${issuer}))`;
          }),
        );
      case 'patient':
      case 'subject':
        return anyOf(values.map((v) => this.orderSubjectCondition(parseReference(v, 'Patient'), p)));
      case 'status': {
        // The order states REQUEST_STATUS maps to each code; a request-status no order has matches none.
        const states = values.flatMap((v) => {
          const code = parseToken(v).code ?? '';
          if (!REQUEST_STATUS_CODES.includes(code)) throw new FhirError('invalid', `"${code}" is not a ServiceRequest status`);
          return Object.entries(REQUEST_STATUS).flatMap(([state, status]) => (status === code ? [state] : []));
        });
        return states.length ? `o.status = ANY(${p.add(states)}::text[])` : 'false';
      }
      default:
        throw new FhirError('invalid', `ServiceRequest search parameter ${name} is not supported (see /metadata)`);
    }
  }

  /**
   * Orders whose subject is `fid`, as readOrder names it: r<n> the registry patient (not merged)
   * holding the order's identifier or whose merged patients hold it; p<n> an identity the registry
   * does not know. The patient's few identifiers first, then their orders (index imaging_order_patient).
   */
  private orderSubjectCondition(fid: string | undefined, p: SqlParams): string {
    const issuer = (column: string): string => `(o2.patient_issuer = ${column} OR (o2.patient_issuer = '' AND ${column} = ${p.add(this.config.identity.defaultPatientIdIssuer)}))`;
    if (fid && /^r\d{1,18}$/.test(fid)) {
      return `o.id IN (SELECT o2.id FROM registry_identifier ri JOIN imaging_order o2 ON o2.patient_id = ri.patient_id AND ${issuer('ri.issuer')}
                        WHERE ri.registry_patient_fk IN (WITH RECURSIVE m (id) AS (SELECT rp.id FROM registry_patient rp WHERE rp.id = ${p.add(fid.slice(1))} AND rp.merged_into IS NULL
                                                                         UNION SELECT c.id FROM registry_patient c JOIN m ON c.merged_into = m.id)
                                                         SELECT id FROM m))`;
    }
    if (fid && /^p\d{1,18}$/.test(fid)) {
      return `o.id IN (SELECT o2.id FROM patient q JOIN imaging_order o2 ON o2.patient_id = q.current_patient_id AND ${issuer('q.current_issuer')}
                        WHERE q.id = ${p.add(fid.slice(1))}
                          AND NOT EXISTS (SELECT 1 FROM registry_identifier ri WHERE ri.patient_id = q.current_patient_id AND ri.issuer = q.current_issuer))`;
    }
    return 'false';
  }

  private async searchPatients(req: FhirApiRequest): Promise<Bundle> {
    const { count, offset } = paging(req.query, PATIENT_SEARCH);
    const p = new SqlParams();
    const where = conditions(req.query, (name, values) => this.patientCondition(name, values, p));
    const page = await this.search.patients(where, p, count, offset);
    return bundle(req, page.total, count, offset, page.items.map((r) => toPatient(r, this.systems)), []);
  }

  private patientCondition(name: string, values: readonly string[], p: SqlParams): string {
    const [base, modifier] = name.split(':') as [string, string | undefined];
    if (modifier !== undefined && !(modifier === 'exact' && ['name', 'family', 'given'].includes(base))) {
      throw new FhirError('invalid', `Patient search parameter ${name} is not supported (see /metadata)`);
    }
    const exact = modifier === 'exact';
    // A name part (an expression over `name`) starting with the value, case and accent folded (R4
    // 3.1.1.4.8): a range over the part's index (migration PatientNameSearch), so also in a generic
    // plan of the prepared statement; :exact adds the case-sensitive equality to the same range.
    const starts = (part: string, value: string): string => {
      const key = `search_fold(${part}) COLLATE "C"`;
      return `(${key} >= search_fold(${value}::text) AND ${key} < search_fold(${value}::text) || chr(1114111))`;
    };
    const family = (v: string): string => {
      // The family name is the start of the whole PN, up to its first '^' (a value with one matches none).
      if (v.includes('^')) return 'false';
      const value = p.add(v);
      return exact ? `(${starts('name', value)} AND split_part(name, '^', 1) = ${value})` : starts('name', value);
    };
    const given = (value: string): string =>
      [2, 3].map((n) => (exact ? `(${starts(`split_part(name, '^', ${n})`, value)} AND split_part(name, '^', ${n}) = ${value})` : starts(`split_part(name, '^', ${n})`, value))).join(' OR ');
    switch (base) {
      case '_id':
        return `fid = ANY(${p.add(values)}::text[])`;
      case 'identifier':
        return anyOf(
          values.map((v) => {
            const t = parseValueToken(v, 'identifier');
            const value = p.add(t.code);
            const issuer = t.system === undefined ? undefined : p.add(systemIssuer(t.system, this.systems));
            return `((src = 0 AND EXISTS (SELECT 1 FROM registry_identifier ri WHERE ri.registry_patient_fk = row_id AND ri.status = 'active' AND ri.patient_id = ${value}${issuer ? ` AND ri.issuer = ${issuer}` : ''}))
              OR (src = 1 AND EXISTS (SELECT 1 FROM patient q WHERE q.id = row_id AND q.current_patient_id = ${value}${issuer ? ` AND q.current_issuer = ${issuer}` : ''})))`;
          }),
        );
      case 'name':
        // Any part: the start of the family or a given name (DICOM PN components), or of the whole
        // name. :exact is the whole name, its components separated by spaces (so its first word
        // starts the PN: the range narrows to those before the equality is tested).
        return anyOf(
          values.map((v) => {
            if (!exact) {
              const value = p.add(v);
              return `(${starts('name', value)} OR ${given(value)})`;
            }
            const equal = `replace(rtrim(name, '^'), '^', ' ') = ${p.add(v)}`;
            const first = v.split(' ')[0]!;
            return first ? `(${starts('name', p.add(first))} AND ${equal})` : `(${equal})`;
          }),
        );
      case 'family':
        return anyOf(values.map(family));
      case 'given':
        return anyOf(values.map((v) => `(${given(p.add(v))})`));
      case 'birthdate':
        return anyOf(values.map((v) => dateCondition('birth_date', parseDate(v), (x) => p.add(x))));
      case 'gender': {
        const sexes = values.map((v) => {
          const code = parseToken(v).code;
          const sex = { male: 'M', female: 'F', other: 'O' }[code ?? ''];
          if (code === 'unknown') return `(sex IS NULL OR sex NOT IN ('M', 'F', 'O'))`;
          if (!sex) throw new FhirError('invalid', `"${v}" is not an administrative gender (male, female, other, unknown)`);
          return `sex = ${p.add(sex)}`;
        });
        return anyOf(sexes);
      }
      default:
        throw new FhirError('invalid', `Patient search parameter ${name} is not supported (see /metadata)`);
    }
  }
}

function single(query: FhirApiRequest['query'], name: string): string | undefined {
  const v = query[name];
  return typeof v === 'string' ? v : v?.[v.length - 1];
}

/**
 * The search's SQL conditions, ANDed: one per parameter occurrence, made by `condition` from the
 * occurrence's comma-separated values (which it ORs); an occurrence without a value is refused.
 */
function conditions(query: FhirApiRequest['query'], condition: (name: string, values: readonly string[]) => string): string[] {
  return params(query).flatMap(([name, occurrences]) =>
    occurrences.map((raw) => {
      const values = orValues(raw);
      if (values.length === 0) throw new FhirError('invalid', `${name} has no value`);
      return condition(name, values);
    }),
  );
}

/** Alternatives ORed (one needs no parentheses). */
function anyOf(parts: readonly string[]): string {
  return parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`;
}

/** The search's own parameters, each with its occurrences (repeated parameters are ANDed). */
function params(query: FhirApiRequest['query']): [string, readonly string[]][] {
  return Object.entries(query)
    .filter(([k]) => !COMMON.has(k))
    .map(([k, v]) => [k, typeof v === 'string' ? [v] : v]);
}

function paging(query: FhirApiRequest['query'], supported: Record<string, string>, include?: string): { count: number; offset: number; include: boolean } {
  for (const name of Object.keys(query)) {
    // A string parameter also takes :exact (R4 3.1.1.5.5); the resource's own check says which ones.
    const [base, modifier] = name.split(':') as [string, string | undefined];
    const exact = modifier === 'exact' && (supported as Record<string, string>)[base] === 'string';
    if (!COMMON.has(name) && !(name in supported) && !exact) throw new FhirError('invalid', `search parameter ${name} is not supported (see /metadata)`);
  }
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = single(query, name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new FhirError('invalid', `${name} must be an integer from ${min} to ${max} (got "${raw}")`);
    return Number(raw);
  };
  const includes = query['_include'] === undefined ? [] : typeof query['_include'] === 'string' ? [query['_include']] : [...query['_include']];
  for (const i of includes) if (i !== include) throw new FhirError('invalid', `_include=${i} is not supported${include ? ` (only ${include})` : ''}`);
  return { count: integer('_count', DEFAULT_COUNT, 1, MAX_COUNT), offset: integer('_offset', 0, 0, 10_000_000), include: includes.length > 0 };
}

/** A searchset Bundle with self/next/previous links (R4 3.1.1.3.4, paging by _offset). */
function bundle(req: FhirApiRequest, total: number, count: number, offset: number, matches: readonly Resource[], included: readonly Resource[]): Bundle {
  const type = req.path[0]!;
  const link = (offsetOf: number): string => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(req.query)) {
      if (k === '_offset' || k === '_count') continue;
      for (const one of typeof v === 'string' ? [v] : v) q.append(k, one);
    }
    q.set('_count', String(count));
    q.set('_offset', String(offsetOf));
    return `${req.baseUrl}/${type}?${q.toString()}`;
  };
  const links: NonNullable<Bundle['link']> = [{ relation: 'self', url: link(offset) }];
  if (offset + count < total) links.push({ relation: 'next', url: link(offset + count) });
  if (offset > 0) links.push({ relation: 'previous', url: link(Math.max(0, offset - count)) });
  const entry = (resource: Resource, mode: 'match' | 'include'): BundleEntry => ({ fullUrl: `${req.baseUrl}/${resource.resourceType}/${resource.id}`, resource, search: { mode } });
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total,
    link: links,
    entry: [...matches.map((r) => entry(r, 'match')), ...included.map((r) => entry(r, 'include'))],
  };
}
