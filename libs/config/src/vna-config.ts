import { availableParallelism, hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

export type Role = 'reader' | 'writer' | 'admin';
export const ROLES: readonly Role[] = ['reader', 'writer', 'admin'];

export interface ApiKeySpec {
  readonly name: string;
  readonly role: Role;
  readonly secret: string;
}

/** An allowed HL7 sender (VNA_HL7_ALLOWED_SENDERS): MSH-3 and MSH-4 namespace ids, `*` matching any run of characters. */
export interface Hl7SenderPattern {
  readonly application: string;
  readonly facility: string;
}

export interface DicomNodeSpec {
  readonly aet: string;
  readonly host: string;
  readonly port: number;
}

/** The profile: `production` rejects unknown peers; `local` (npm start) accepts them with a warning. */
export type Profile = 'local' | 'production' | 'test';

/**
 * Everything the archive reads from its environment, parsed and validated once (immich's
 * env.dto/config.repository pattern). Nothing else reads process.env.
 */
export interface VnaConfig {
  readonly profile: Profile;
  readonly nodeId: string;
  readonly bind: string;
  readonly http: { readonly port: number; readonly publicUrl?: string };
  readonly dicom: {
    readonly port: number;
    readonly aet: string;
    readonly maxPduLength: number;
    readonly associationTimeoutMs: number;
    readonly pduTimeoutMs: number;
    readonly nodes: readonly DicomNodeSpec[];
  };
  readonly hl7: {
    readonly port: number;
    /** The largest MLLP frame taken; a larger one gets AR and the connection closed. */
    readonly maxMessageBytes: number;
    /** A frame that stops arriving (no byte for this long, no FS yet) is discarded. */
    readonly frameTimeoutMs: number;
    /** Who may send (MSH-3@MSH-4): production rejects anyone else with AR; other profiles warn. */
    readonly allowedSenders: readonly Hl7SenderPattern[];
    /** MLLP over TLS when set (PEM files); with `caFile`, clients must present a certificate it signed. */
    readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile?: string };
  };
  readonly database: { readonly url: string; readonly poolSize: number };
  readonly redis: { readonly url: string; readonly prefix: string };
  readonly blob: { readonly connectionString: string; readonly container: string };
  readonly dataDir: string;
  readonly spoolDir: string;
  readonly apiKeys: readonly ApiKeySpec[];
  readonly stow: { readonly maxBytes: number };
  readonly qido: { readonly maxResults: number };
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Processes serving the same ports (one per core by default): Node runs JavaScript on one core per process. */
  readonly workers: number;
  /** Orders, the Modality Worklist and outbound HL7 (libs/identity/src/orders). */
  readonly orders: OrdersConfig;
  /** Patient identity (libs/identity). */
  /** The FHIR R4 hub (libs/fhir): ImagingStudy publishing and the archive's own FHIR API. */
  readonly fhir: FhirConfig;
  readonly identity: {
    /** The issuer of a PID-3 without assigning authority and of a DICOM header without IssuerOfPatientID. */
    readonly defaultPatientIdIssuer: string;
    /** A suspicious merge or identifier change: `hold` for HIM review (AA) or `reject` (AE, nothing kept). */
    readonly suspiciousMerge: 'hold' | 'reject';
  };
  /** Attribute coercion rules (libs/normalization). */
  readonly coercion: CoercionConfig;
  /** What objects leave the archive in, per destination (the egress overlay). */
  readonly egress: EgressConfig;
  /** IHE IOCM rejection notes (libs/corrections). */
  readonly iocm: {
    /** A rejected instance sent again: `reject` refuses it (C-STORE 0x0124, STOW failure), `restore` shows it again. */
    readonly resend: 'reject' | 'restore';
  };
  /** Storage lifecycle: tiers, rehydration, prefetch, verification (libs/lifecycle). */
  readonly lifecycle: LifecycleConfig;
  /** Retention and the deletion workflow (libs/lifecycle). */
  readonly retention: {
    /** Approvals a deletion needs (2: the two-person rule, two different users). */
    readonly approvals: 1 | 2;
  };
}

export interface CoercionConfig {
  /** How often a process looks for rule changes made by another process (its own changes apply at once). */
  readonly refreshMs: number;
  /** A source's default issuer for a missing IssuerOfPatientID (the `issuer` action), by calling AE title or STOW key name. */
  readonly sourceIssuers: Readonly<Record<string, string>>;
}

export interface EgressConfig {
  /** Where a rewritten header goes when its own character set cannot hold the new values (PS3.5 6.1.2.3). */
  readonly defaultCharset: readonly string[];
  /** Destinations that accept only one character set (AE title -> Specific Character Set values): every header is written in it. */
  readonly charsets: Readonly<Record<string, readonly string[]>>;
}

/** How the archive authenticates to a FHIR server it publishes to. */
export type FhirAuth =
  | { readonly kind: 'none' }
  | { readonly kind: 'bearer'; readonly token: string }
  /** SMART Backend Services: client credentials grant with a client secret or a private key JWT (RS384). */
  | { readonly kind: 'smart'; readonly tokenUrl: string; readonly clientId: string; readonly clientSecret?: string; readonly privateKeyFile?: string; readonly scope: string };

export interface FhirConfig {
  /** The FHIR server that VNA_FHIR_PUBLISH_URL names, if any (more through /api/v1/fhir-destinations). */
  readonly publish?: { readonly url: string; readonly auth: FhirAuth };
  /** FHIR identifier system per issuer of patient ID (VNA_FHIR_PATIENT_ID_SYSTEMS), for the configured destination and the archive's API. */
  readonly patientIdentifierSystems: Readonly<Record<string, string>>;
  /** Create the Patient in the configured destination when no Patient carries the study's identifier. */
  readonly createPatients: boolean;
  /** A study is published once nothing changed in it for this long (VNA_STUDY_STABLE_SECONDS). */
  readonly studyStableMs: number;
  /** One request to a FHIR server (and a token request) gives up after this long. */
  readonly timeoutMs: number;
}

/** A forwarding rule (VNA_HL7_FORWARD): messages of these types go on to host:port over MLLP. */
export interface Hl7ForwardRule {
  /** 'ADT^A01', 'ADT^*' or '*'. */
  readonly patterns: readonly string[];
  readonly host: string;
  readonly port: number;
}

export interface OrdersConfig {
  /** A new order without a Study Instance UID (ZDS-1, IPC-3) gets a 2.25 UID; else it is refused (AE). */
  readonly generateStudyUid: boolean;
  readonly forward: readonly Hl7ForwardRule[];
  /** Where to tell the RIS that an ordered study's first object arrived (ORM^O01, ORC-1 SC), if anywhere. */
  readonly risNotify?: { readonly host: string; readonly port: number; readonly orderStatus: 'IP' | 'CM' };
  /** How long an outbound message waits for its ACK before the attempt counts as failed. */
  readonly ackTimeoutMs: number;
}

/** Which priors a prefetch trigger brings to Hot (VNA_LIFECYCLE_PREFETCH_MATCH). */
export type PrefetchMatch = 'modality' | 'body-part' | 'modality-or-body-part' | 'any';
export const PREFETCH_MATCHES: readonly PrefetchMatch[] = ['modality', 'body-part', 'modality-or-body-part', 'any'];

export interface LifecycleConfig {
  /** Run the scheduled lifecycle jobs in this process (the worker and the all-in-one app do). */
  readonly jobs: boolean;
  /** How often the tiering, retention and prefetch jobs run. */
  readonly intervalMs: number;
  /** How often the storage verification runs. */
  readonly verifyIntervalMs: number;
  /** Objects per batch (one statement evaluates a batch; moves run in parallel within it). */
  readonly batchSize: number;
  /** Tier moves in flight at once (the store's request rate is the limit, not the archive). */
  readonly moveConcurrency: number;
  /** Rehydration from Archive: High (under an hour on Azure for small blobs) or Standard (up to 15 hours). */
  readonly rehydratePriority: 'High' | 'Standard';
  /** Retry-After answered while an object rehydrates. */
  readonly retryAfterSeconds: number;
  /** A rehydrated or prefetched object stays Hot this long, then goes back to its policy tier. */
  readonly hotHoldMs: number;
  /** Storage verification: the stored MD5 property, or a SHA-256 re-read of every object. */
  readonly verifyHash: 'md5' | 'sha256';
  /** Share of objects (percent) re-read and hashed each verification round, whatever verifyHash says. */
  readonly verifySamplePercent: number;
  /** Prefetch: priors of the last this many years ... */
  readonly prefetchYears: number;
  /**
   * ... that match the trigger (a new order, a worklist step, a pre-admit): 'modality' (a series of
   * one of the order's step modalities), 'body-part' (a series whose Body Part Examined is one of the
   * order's body parts, OBR-15.4, ignoring case; an order naming none falls back to its modalities),
   * 'modality-or-body-part' (either), or 'any'. A trigger with neither (a pre-admit) matches any prior.
   */
  readonly prefetchMatch: PrefetchMatch;
  /** A scheduled worklist step this close (hours) to its start brings the patient's priors back. */
  readonly prefetchLeadHours: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string, fallback?: string): string {
    const v = this.env[name]?.trim();
    if (v) return v;
    if (fallback === undefined) {
      this.problems.push(`${name} is required`);
      return '';
    }
    return fallback;
  }

  optional(name: string): string | undefined {
    const v = this.env[name]?.trim();
    return v ? v : undefined;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.env[name]?.trim();
    if (!raw) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return Number(raw);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.env[name]?.trim();
    if (!raw) return fallback;
    if (!allowed.includes(raw as T)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
      return fallback;
    }
    return raw as T;
  }

  url(name: string, fallback: string, protocols: readonly string[]): string {
    const raw = this.string(name, fallback);
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) this.problems.push(`${name} must be a ${protocols.join(' or ')} URL`);
    } catch {
      this.problems.push(`${name} is not a valid URL`);
    }
    return raw;
  }
}

/** AE titles: 1-16 characters of the default repertoire, no backslash or control characters (PS3.5 6.2). */
export function isValidAeTitle(aet: string): boolean {
  return aet.length >= 1 && aet.length <= 16 && /^[\x20-\x5b\x5d-\x7e]+$/.test(aet) && aet.trim().length > 0;
}

export function parseDicomNodes(raw: string | undefined, problems: string[], name = 'VNA_DICOM_NODES'): DicomNodeSpec[] {
  if (!raw) return [];
  const nodes: DicomNodeSpec[] = [];
  for (const entry of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^@]+)@(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    const port = m ? Number(m[3]) : NaN;
    if (!m || !isValidAeTitle(m[1]!) || port < 1 || port > 65535) {
      problems.push(`${name}: "${entry}" is not AET@host:port`);
      continue;
    }
    nodes.push({ aet: m[1]!, host: m[2]!.replace(/^\[|\]$/g, ''), port });
  }
  return nodes;
}

/** `KEY=VALUE;KEY=VALUE` (keys AE titles): per-source issuers, per-destination character sets. */
export function parseAetMap(raw: string | undefined, problems: string[], name: string, check: (value: string) => string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const entry of raw.split(';').map((s) => s.trim()).filter(Boolean)) {
    const at = entry.indexOf('=');
    const key = at > 0 ? entry.slice(0, at).trim() : '';
    const value = at > 0 ? entry.slice(at + 1).trim() : '';
    if (!key || !value || !isValidAeTitle(key)) {
      problems.push(`${name}: "${entry}" is not AET=value`);
      continue;
    }
    const problem = check(value);
    if (problem) problems.push(`${name}: ${key}: ${problem}`);
    else out[key] = value;
  }
  return out;
}

/** A Specific Character Set value (backslash-separated terms, PS3.3 C.12.1.1.2) as configured. */
function charsetTerms(value: string): string[] {
  return value.split('\\').map((t) => t.trim());
}

const CHARSET_TERM = /^(ISO_IR \d+|ISO 2022 IR \d+|GB18030|GBK)$/;

function checkCharset(value: string): string | undefined {
  const terms = charsetTerms(value);
  if (terms.some((t, i) => !(t === '' && i === 0 && terms.length > 1) && !CHARSET_TERM.test(t))) return `"${value}" is not a Specific Character Set value (such as ISO_IR 192, ISO_IR 100, \\ISO 2022 IR 87)`;
  return undefined;
}

function egressConfig(r: Reader, env: Env): EgressConfig {
  const raw = r.string('VNA_EGRESS_CHARSET', 'ISO_IR 192');
  const problem = checkCharset(raw);
  if (problem) r.problems.push(`VNA_EGRESS_CHARSET: ${problem}`);
  const charsets = parseAetMap(env['VNA_EGRESS_CHARSETS'], r.problems, 'VNA_EGRESS_CHARSETS', checkCharset);
  return {
    defaultCharset: charsetTerms(problem ? 'ISO_IR 192' : raw),
    charsets: Object.fromEntries(Object.entries(charsets).map(([aet, v]) => [aet, charsetTerms(v)])),
  };
}

/** `APP@FACILITY,...` (MSH-3@MSH-4), `*` a wildcard on either side; `*` alone is anyone. */
export function parseHl7Senders(raw: string | undefined, problems: string[]): Hl7SenderPattern[] {
  if (!raw) return [];
  const senders: Hl7SenderPattern[] = [];
  for (const entry of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (entry === '*') {
      senders.push({ application: '*', facility: '*' });
      continue;
    }
    const parts = entry.split('@');
    if (parts.length !== 2 || !parts[0]!.trim() || !parts[1]!.trim()) {
      problems.push(`VNA_HL7_ALLOWED_SENDERS: "${entry}" is not APPLICATION@FACILITY`);
      continue;
    }
    senders.push({ application: parts[0]!.trim(), facility: parts[1]!.trim() });
  }
  return senders;
}

/** `host:port` (a bracketed IPv6 literal allowed); undefined when malformed. */
function hostPort(raw: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:@\s]+):(\d+)$/.exec(raw.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** `TYPE^TRIGGER|TYPE^*|*@host:port,...`: which messages go where (HL7 forwarding). */
export function parseHl7Forward(raw: string | undefined, problems: string[]): Hl7ForwardRule[] {
  if (!raw) return [];
  const rules: Hl7ForwardRule[] = [];
  for (const entry of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = entry.lastIndexOf('@');
    const patterns = at > 0 ? entry.slice(0, at).split('|').map((p) => p.trim().toUpperCase()) : [];
    const target = at > 0 ? hostPort(entry.slice(at + 1)) : undefined;
    if (!target || patterns.length === 0 || !patterns.every((p) => /^(\*|[A-Z0-9]{3}\^(\*|[A-Z0-9]{2,3}))$/.test(p))) {
      problems.push(`VNA_HL7_FORWARD: "${entry}" is not TYPE^TRIGGER[|TYPE^TRIGGER...]@host:port (TRIGGER or the whole pattern may be *)`);
      continue;
    }
    rules.push({ patterns, ...target });
  }
  return rules;
}

/** `ISSUER=system,...`: the FHIR identifier system of each issuer of patient ID. */
export function parseIdentifierSystems(raw: string | undefined, problems: string[], name = 'VNA_FHIR_PATIENT_ID_SYSTEMS'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of (raw ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    const eq = entry.indexOf('=');
    const issuer = eq > 0 ? entry.slice(0, eq).trim() : '';
    const system = eq > 0 ? entry.slice(eq + 1).trim() : '';
    if (!issuer || !/^[a-z][a-z0-9+.-]*:\S+$/i.test(system)) {
      problems.push(`${name}: "${entry}" is not ISSUER=system (the system a URI such as urn:oid:1.2.3 or https://hospital.example/mrn)`);
      continue;
    }
    out[issuer] = system;
  }
  return out;
}

function fhirConfig(r: Reader): FhirConfig {
  const url = r.optional('VNA_FHIR_PUBLISH_URL');
  if (url) r.url('VNA_FHIR_PUBLISH_URL', url, ['http:', 'https:']);
  const token = r.optional('VNA_FHIR_PUBLISH_TOKEN');
  const tokenUrl = r.optional('VNA_FHIR_PUBLISH_TOKEN_URL');
  const clientId = r.optional('VNA_FHIR_PUBLISH_CLIENT_ID');
  const clientSecret = r.optional('VNA_FHIR_PUBLISH_CLIENT_SECRET');
  const privateKeyFile = r.optional('VNA_FHIR_PUBLISH_PRIVATE_KEY');
  let auth: FhirAuth = { kind: 'none' };
  if (token && tokenUrl) r.problems.push('VNA_FHIR_PUBLISH_TOKEN and VNA_FHIR_PUBLISH_TOKEN_URL exclude each other (a fixed bearer token, or SMART client credentials)');
  else if (token) auth = { kind: 'bearer', token };
  else if (tokenUrl) {
    r.url('VNA_FHIR_PUBLISH_TOKEN_URL', tokenUrl, ['http:', 'https:']);
    if (!clientId || (!clientSecret && !privateKeyFile)) {
      r.problems.push('VNA_FHIR_PUBLISH_TOKEN_URL needs VNA_FHIR_PUBLISH_CLIENT_ID and VNA_FHIR_PUBLISH_CLIENT_SECRET or VNA_FHIR_PUBLISH_PRIVATE_KEY');
    } else {
      auth = { kind: 'smart', tokenUrl, clientId, clientSecret, privateKeyFile, scope: r.string('VNA_FHIR_PUBLISH_SCOPE', 'system/ImagingStudy.write system/Patient.read system/ServiceRequest.read system/Endpoint.write') };
    }
  }
  return {
    publish: url ? { url: url.replace(/\/+$/, ''), auth } : undefined,
    patientIdentifierSystems: parseIdentifierSystems(r.optional('VNA_FHIR_PATIENT_ID_SYSTEMS'), r.problems),
    createPatients: r.oneOf('VNA_FHIR_CREATE_PATIENTS', ['true', 'false'] as const, 'false') === 'true',
    studyStableMs: r.int('VNA_STUDY_STABLE_SECONDS', 60, 0, 86_400) * 1000,
    timeoutMs: r.int('VNA_FHIR_TIMEOUT_SECONDS', 30, 1, 600) * 1000,
  };
}

function ordersConfig(r: Reader, env: Env): OrdersConfig {
  const notifyRaw = r.optional('VNA_RIS_NOTIFY');
  const notify = notifyRaw ? hostPort(notifyRaw) : undefined;
  if (notifyRaw && !notify) r.problems.push(`VNA_RIS_NOTIFY must be host:port (got "${notifyRaw}")`);
  const orderStatus = r.oneOf('VNA_RIS_NOTIFY_STATUS', ['IP', 'CM'] as const, 'IP');
  return {
    generateStudyUid: r.oneOf('VNA_ORDERS_GENERATE_STUDY_UID', ['true', 'false'] as const, 'true') === 'true',
    forward: parseHl7Forward(env['VNA_HL7_FORWARD'], r.problems),
    risNotify: notify ? { ...notify, orderStatus } : undefined,
    ackTimeoutMs: r.int('VNA_HL7_OUT_ACK_TIMEOUT_SECONDS', 30, 1, 600) * 1000,
  };
}

export function parseApiKeys(raw: string | undefined, problems: string[]): ApiKeySpec[] {
  if (!raw) return [];
  const keys: ApiKeySpec[] = [];
  for (const entry of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, role, ...rest] = entry.split(':');
    const secret = rest.join(':');
    if (!name || !role || !ROLES.includes(role as Role) || secret.length < 16) {
      // Never echo the entry: it holds a secret.
      problems.push(`VNA_API_KEYS: an entry is not name:role:secret with role reader|writer|admin and a secret of at least 16 characters${name ? ` (name "${name}")` : ''}`);
      continue;
    }
    keys.push({ name, role: role as Role, secret });
  }
  return keys;
}

function hl7Tls(r: Reader): VnaConfig['hl7']['tls'] {
  const certFile = r.optional('VNA_HL7_TLS_CERT');
  const keyFile = r.optional('VNA_HL7_TLS_KEY');
  const caFile = r.optional('VNA_HL7_TLS_CA');
  if (!certFile && !keyFile) {
    if (caFile) r.problems.push('VNA_HL7_TLS_CA needs VNA_HL7_TLS_CERT and VNA_HL7_TLS_KEY');
    return undefined;
  }
  if (!certFile || !keyFile) {
    r.problems.push('VNA_HL7_TLS_CERT and VNA_HL7_TLS_KEY go together (PEM files)');
    return undefined;
  }
  return { certFile, keyFile, caFile };
}

/**
 * Builds the configuration from an environment (the process's own by default: the only place that
 * reads it); throws ConfigError naming every bad variable.
 */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): VnaConfig {
  const r = new Reader(env);
  const nodeEnv = env['NODE_ENV']?.trim();
  const profile: Profile = nodeEnv === 'production' ? 'production' : nodeEnv === 'test' ? 'test' : 'local';
  const dataDirRaw = r.string('VNA_DATA_DIR', '.vna');
  const dataDir = isAbsolute(dataDirRaw) ? dataDirRaw : resolve(cwd, dataDirRaw);
  const aet = r.string('VNA_DICOM_AET', 'VNA');
  if (!isValidAeTitle(aet)) r.problems.push('VNA_DICOM_AET must be 1-16 printable characters without backslash');
  const publicUrl = r.optional('VNA_PUBLIC_URL');
  if (publicUrl) {
    try {
      new URL(publicUrl);
    } catch {
      r.problems.push('VNA_PUBLIC_URL is not a valid URL');
    }
  }
  const config: VnaConfig = {
    profile,
    nodeId: r.string('VNA_NODE_ID', hostname()),
    bind: r.string('VNA_BIND', '127.0.0.1'),
    http: { port: r.int('VNA_HTTP_PORT', 8080, 0, 65535), publicUrl: publicUrl?.replace(/\/+$/, '') },
    dicom: {
      port: r.int('VNA_DICOM_PORT', 11112, 0, 65535),
      aet,
      // 64 KiB: a PDU then mostly arrives in one socket read (fewer copies, less garbage); larger ones measured slower.
      maxPduLength: r.int('VNA_DICOM_MAX_PDU', 65536, 4096, 16 * 1024 * 1024),
      associationTimeoutMs: r.int('VNA_DICOM_ASSOCIATION_TIMEOUT_SECONDS', 30, 1, 3600) * 1000,
      pduTimeoutMs: r.int('VNA_DICOM_PDU_TIMEOUT_SECONDS', 60, 1, 3600) * 1000,
      nodes: parseDicomNodes(env['VNA_DICOM_NODES'], r.problems),
    },
    hl7: {
      port: r.int('VNA_HL7_PORT', 2575, 0, 65535),
      maxMessageBytes: r.int('VNA_HL7_MAX_MESSAGE_BYTES', 1024 * 1024, 1024, 256 * 1024 * 1024),
      frameTimeoutMs: r.int('VNA_HL7_FRAME_TIMEOUT_SECONDS', 30, 1, 3600) * 1000,
      allowedSenders: parseHl7Senders(env['VNA_HL7_ALLOWED_SENDERS'], r.problems),
      tls: hl7Tls(r),
    },
    database: {
      url: r.url('VNA_DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/vna', ['postgres:', 'postgresql:']),
      poolSize: r.int('VNA_DATABASE_POOL_SIZE', 20, 1, 500),
    },
    redis: { url: r.url('VNA_REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']), prefix: r.string('VNA_REDIS_PREFIX', 'vna') },
    blob: {
      connectionString: r.string('VNA_BLOB_CONNECTION_STRING', profile === 'production' ? undefined : ''),
      container: r.string('VNA_BLOB_CONTAINER', 'vna-objects'),
    },
    dataDir,
    spoolDir: join(dataDir, 'spool'),
    apiKeys: parseApiKeys(env['VNA_API_KEYS'], r.problems),
    stow: { maxBytes: r.int('VNA_STOW_MAX_BYTES', 4 * 1024 * 1024 * 1024, 1024, Number.MAX_SAFE_INTEGER) },
    qido: { maxResults: r.int('VNA_QIDO_MAX_RESULTS', 10000, 1, 1_000_000) },
    logLevel: r.oneOf('VNA_LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, 'info'),
    workers: r.int('VNA_WORKERS', Math.min(availableParallelism(), 4), 1, 64),
    orders: ordersConfig(r, env),
    identity: {
      defaultPatientIdIssuer: r.string('VNA_DEFAULT_PATIENT_ID_ISSUER', ''),
      suspiciousMerge: r.oneOf('VNA_HL7_SUSPICIOUS_MERGE', ['hold', 'reject'] as const, 'hold'),
    },
    coercion: {
      refreshMs: r.int('VNA_COERCION_REFRESH_SECONDS', 5, 1, 3600) * 1000,
      sourceIssuers: parseAetMap(env['VNA_COERCION_SOURCE_ISSUERS'], r.problems, 'VNA_COERCION_SOURCE_ISSUERS', (v) => (v.length > 64 || v.includes('\\') ? 'an issuer is at most 64 characters without backslash' : undefined)),
    },
    egress: egressConfig(r, env),
    iocm: { resend: r.oneOf('VNA_IOCM_RESEND', ['reject', 'restore'] as const, 'reject') },
    lifecycle: {
      jobs: r.oneOf('VNA_LIFECYCLE_JOBS', ['true', 'false'] as const, 'true') === 'true',
      intervalMs: r.int('VNA_LIFECYCLE_INTERVAL_SECONDS', 900, 1, 7 * 86400) * 1000,
      verifyIntervalMs: r.int('VNA_LIFECYCLE_VERIFY_INTERVAL_SECONDS', 86400, 1, 90 * 86400) * 1000,
      batchSize: r.int('VNA_LIFECYCLE_BATCH_SIZE', 2000, 1, 50_000),
      moveConcurrency: r.int('VNA_LIFECYCLE_MOVE_CONCURRENCY', 16, 1, 256),
      rehydratePriority: r.oneOf('VNA_LIFECYCLE_REHYDRATE_PRIORITY', ['High', 'Standard'] as const, 'Standard'),
      retryAfterSeconds: r.int('VNA_LIFECYCLE_RETRY_AFTER_SECONDS', 3600, 1, 86400),
      hotHoldMs: r.int('VNA_LIFECYCLE_REHYDRATED_HOT_DAYS', 7, 0, 3650) * 86_400_000,
      verifyHash: r.oneOf('VNA_LIFECYCLE_VERIFY_HASH', ['md5', 'sha256'] as const, 'md5'),
      verifySamplePercent: r.int('VNA_LIFECYCLE_VERIFY_SAMPLE_PERCENT', 1, 0, 100),
      prefetchYears: r.int('VNA_LIFECYCLE_PREFETCH_YEARS', 3, 0, 100),
      prefetchMatch: r.oneOf('VNA_LIFECYCLE_PREFETCH_MATCH', PREFETCH_MATCHES, 'modality'),
      prefetchLeadHours: r.int('VNA_LIFECYCLE_PREFETCH_LEAD_HOURS', 24, 0, 24 * 365),
    },
    retention: { approvals: r.oneOf('VNA_RETENTION_APPROVALS', ['1', '2'] as const, '1') === '2' ? 2 : 1 },
    fhir: fhirConfig(r),
  };
  if (config.blob.container && !/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/.test(config.blob.container)) {
    r.problems.push('VNA_BLOB_CONTAINER must be a valid Azure container name (3-63 lower-case letters, digits, hyphens)');
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}
