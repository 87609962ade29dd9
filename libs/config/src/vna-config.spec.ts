import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig, parseDicomNodes, parseHl7Forward, parseHl7Senders } from './vna-config.js';

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    const c = loadConfig({}, '/srv/vna');
    expect(c.profile).toBe('local');
    expect(c.http.port).toBe(8080);
    expect(c.dicom.port).toBe(11112);
    expect(c.dicom.aet).toBe('VNA');
    expect(c.hl7.port).toBe(2575);
    expect(c.bind).toBe('127.0.0.1');
    expect(c.dataDir).toBe('/srv/vna/.vna');
    expect(c.spoolDir).toBe('/srv/vna/.vna/spool');
  });

  it('names every bad variable at once', () => {
    let error: unknown;
    try {
      loadConfig({ VNA_HTTP_PORT: 'eighty', VNA_DICOM_AET: 'WAY_TOO_LONG_AE_TITLE', VNA_DATABASE_URL: 'mysql://x', VNA_API_KEYS: 'a:boss:short' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('VNA_HTTP_PORT');
    expect(message).toContain('VNA_DICOM_AET');
    expect(message).toContain('VNA_DATABASE_URL');
    expect(message).toContain('VNA_API_KEYS');
    expect(message).not.toContain('short'); // the secret is never echoed
  });

  it('parses API keys and DICOM nodes', () => {
    const c = loadConfig({
      VNA_API_KEYS: 'ris:writer:0123456789abcdef0123,him:admin:fedcba9876543210fedc',
      VNA_DICOM_NODES: 'PACS@10.0.0.5:104, VIEWER@viewer.local:11113',
    });
    expect(c.apiKeys.map((k) => `${k.name}/${k.role}`)).toEqual(['ris/writer', 'him/admin']);
    expect(c.dicom.nodes).toEqual([
      { aet: 'PACS', host: '10.0.0.5', port: 104 },
      { aet: 'VIEWER', host: 'viewer.local', port: 11113 },
    ]);
  });

  it('requires a blob connection string in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/VNA_BLOB_CONNECTION_STRING is required/);
  });

  it('rejects malformed node entries', () => {
    const problems: string[] = [];
    expect(parseDicomNodes('PACS@host, @h:1, X@h:99999', problems)).toEqual([]);
    expect(problems).toHaveLength(3);
  });

  it('reads the HL7 listener settings', () => {
    const defaults = loadConfig({}).hl7;
    expect(defaults).toEqual({ port: 2575, maxMessageBytes: 1024 * 1024, frameTimeoutMs: 30_000, allowedSenders: [], tls: undefined });
    const c = loadConfig({
      VNA_HL7_PORT: '2576',
      VNA_HL7_MAX_MESSAGE_BYTES: '65536',
      VNA_HL7_FRAME_TIMEOUT_SECONDS: '5',
      VNA_HL7_ALLOWED_SENDERS: 'RIS@NORTHSIDE, HIS*@*',
      VNA_HL7_TLS_CERT: '/etc/vna/hl7.crt',
      VNA_HL7_TLS_KEY: '/etc/vna/hl7.key',
    }).hl7;
    expect(c).toEqual({
      port: 2576,
      maxMessageBytes: 65536,
      frameTimeoutMs: 5000,
      allowedSenders: [
        { application: 'RIS', facility: 'NORTHSIDE' },
        { application: 'HIS*', facility: '*' },
      ],
      tls: { certFile: '/etc/vna/hl7.crt', keyFile: '/etc/vna/hl7.key', caFile: undefined },
    });
    expect(() => loadConfig({ VNA_HL7_TLS_CERT: '/x.crt' })).toThrow(/VNA_HL7_TLS_CERT and VNA_HL7_TLS_KEY go together/);
    expect(() => loadConfig({ VNA_HL7_MAX_MESSAGE_BYTES: '10' })).toThrow(/VNA_HL7_MAX_MESSAGE_BYTES/);
    const problems: string[] = [];
    expect(parseHl7Senders('*, RIS, @X, A@B@C', problems)).toEqual([{ application: '*', facility: '*' }]);
    expect(problems).toHaveLength(3);
  });
  it('reads the orders settings: Study UID generation, forwarding, RIS notification, ACK timeout', () => {
    expect(loadConfig({}).orders).toEqual({ generateStudyUid: true, forward: [], risNotify: undefined, ackTimeoutMs: 30_000 });
    const c = loadConfig({
      VNA_ORDERS_GENERATE_STUDY_UID: 'false',
      VNA_HL7_FORWARD: 'ADT^A01|ORM^*@pacs.local:2576, *@[::1]:2577',
      VNA_RIS_NOTIFY: 'ris.local:2575',
      VNA_RIS_NOTIFY_STATUS: 'CM',
      VNA_HL7_OUT_ACK_TIMEOUT_SECONDS: '5',
    }).orders;
    expect(c).toEqual({
      generateStudyUid: false,
      forward: [
        { patterns: ['ADT^A01', 'ORM^*'], host: 'pacs.local', port: 2576 },
        { patterns: ['*'], host: '::1', port: 2577 },
      ],
      risNotify: { host: 'ris.local', port: 2575, orderStatus: 'CM' },
      ackTimeoutMs: 5000,
    });
    expect(loadConfig({ VNA_RIS_NOTIFY: 'ris.local:2575' }).orders.risNotify).toEqual({ host: 'ris.local', port: 2575, orderStatus: 'IP' });
  });

  it('names each bad orders variable', () => {
    const bad: Record<string, RegExp> = {
      VNA_ORDERS_GENERATE_STUDY_UID: /VNA_ORDERS_GENERATE_STUDY_UID/,
      VNA_RIS_NOTIFY: /VNA_RIS_NOTIFY must be host:port/,
      VNA_RIS_NOTIFY_STATUS: /VNA_RIS_NOTIFY_STATUS/,
      VNA_HL7_OUT_ACK_TIMEOUT_SECONDS: /VNA_HL7_OUT_ACK_TIMEOUT_SECONDS/,
      VNA_HL7_FORWARD: /VNA_HL7_FORWARD/,
    };
    const values: Record<string, string> = {
      VNA_ORDERS_GENERATE_STUDY_UID: 'maybe',
      VNA_RIS_NOTIFY: 'ris.local',
      VNA_RIS_NOTIFY_STATUS: 'XX',
      VNA_HL7_OUT_ACK_TIMEOUT_SECONDS: '0',
      VNA_HL7_FORWARD: 'ADT^A01@pacs.local',
    };
    for (const [name, pattern] of Object.entries(bad)) expect(() => loadConfig({ [name]: values[name]! })).toThrow(pattern);
    const problems: string[] = [];
    expect(parseHl7Forward('ADT^A01@h:1, ADT@h:2, ^A01@h:3, ADT^A01@h:0, ADT^A01@h:x, @h:4, ADT^A01', problems)).toEqual([{ patterns: ['ADT^A01'], host: 'h', port: 1 }]);
    expect(problems).toHaveLength(6);
  });

  it('reads coercion and egress settings: per-source issuers, per-destination character sets', () => {
    const d = loadConfig({});
    expect(d.coercion).toEqual({ refreshMs: 5000, sourceIssuers: {} });
    expect(d.egress).toEqual({ defaultCharset: ['ISO_IR 192'], charsets: {} });
    const c = loadConfig({
      VNA_COERCION_REFRESH_SECONDS: '2',
      VNA_COERCION_SOURCE_ISSUERS: 'CT1=HOSP_A; MR1=HOSP_B',
      VNA_EGRESS_CHARSET: 'ISO_IR 100',
      VNA_EGRESS_CHARSETS: 'OLDPACS=ISO_IR 100;JPACS=\\ISO 2022 IR 87',
    });
    expect(c.coercion).toEqual({ refreshMs: 2000, sourceIssuers: { CT1: 'HOSP_A', MR1: 'HOSP_B' } });
    expect(c.egress).toEqual({ defaultCharset: ['ISO_IR 100'], charsets: { OLDPACS: ['ISO_IR 100'], JPACS: ['', 'ISO 2022 IR 87'] } });
    expect(() => loadConfig({ VNA_EGRESS_CHARSETS: 'OLDPACS=LATIN1' })).toThrow(/VNA_EGRESS_CHARSETS: OLDPACS: "LATIN1" is not a Specific Character Set/);
    expect(() => loadConfig({ VNA_EGRESS_CHARSET: 'UTF8' })).toThrow(/VNA_EGRESS_CHARSET/);
    expect(() => loadConfig({ VNA_COERCION_SOURCE_ISSUERS: 'CT1' })).toThrow(/VNA_COERCION_SOURCE_ISSUERS: "CT1" is not AET=value/);
  });

  it('reads the IOCM re-send policy (reject by default)', () => {
    expect(loadConfig({}).iocm.resend).toBe('reject');
    expect(loadConfig({ VNA_IOCM_RESEND: 'restore' }).iocm.resend).toBe('restore');
    expect(() => loadConfig({ VNA_IOCM_RESEND: 'ignore' })).toThrow(/VNA_IOCM_RESEND/);
  });

  it('reads the lifecycle and retention settings, naming each bad one', () => {
    const d = loadConfig({});
    expect(d.lifecycle).toMatchObject({ jobs: true, intervalMs: 900_000, batchSize: 2000, rehydratePriority: 'Standard', retryAfterSeconds: 3600, hotHoldMs: 7 * 86_400_000, verifyHash: 'md5', prefetchMatch: 'modality' });
    expect(d.retention.approvals).toBe(1);
    const c = loadConfig({ VNA_LIFECYCLE_JOBS: 'false', VNA_LIFECYCLE_REHYDRATE_PRIORITY: 'High', VNA_LIFECYCLE_VERIFY_HASH: 'sha256', VNA_RETENTION_APPROVALS: '2', VNA_LIFECYCLE_PREFETCH_YEARS: '5' });
    expect(c.lifecycle).toMatchObject({ jobs: false, rehydratePriority: 'High', verifyHash: 'sha256', prefetchYears: 5 });
    expect(c.retention.approvals).toBe(2);
    expect(() => loadConfig({ VNA_RETENTION_APPROVALS: '3', VNA_LIFECYCLE_BATCH_SIZE: '0', VNA_LIFECYCLE_VERIFY_HASH: 'crc' })).toThrow(/VNA_RETENTION_APPROVALS[\s\S]*VNA_LIFECYCLE_BATCH_SIZE|VNA_LIFECYCLE_BATCH_SIZE[\s\S]*VNA_RETENTION_APPROVALS/);
  });
  it('reads the prefetch match (modality by default; body-part, modality-or-body-part, any) and refuses another', () => {
    expect(loadConfig({}).lifecycle.prefetchMatch).toBe('modality');
    for (const match of ['modality', 'body-part', 'modality-or-body-part', 'any']) expect(loadConfig({ VNA_LIFECYCLE_PREFETCH_MATCH: match }).lifecycle.prefetchMatch).toBe(match);
    expect(() => loadConfig({ VNA_LIFECYCLE_PREFETCH_MATCH: 'bodypart' })).toThrow(/VNA_LIFECYCLE_PREFETCH_MATCH/);
    expect(() => loadConfig({ VNA_LIFECYCLE_PREFETCH_MATCH: 'BODY-PART' })).toThrow(/VNA_LIFECYCLE_PREFETCH_MATCH/);
  });
  it('reads the FHIR hub settings: publish URL and its authentication, identifier systems, stability window', () => {
    const d = loadConfig({});
    expect(d.fhir).toEqual({ publish: undefined, patientIdentifierSystems: {}, createPatients: false, studyStableMs: 60_000, timeoutMs: 30_000 });
    const c = loadConfig({
      VNA_FHIR_PUBLISH_URL: 'https://ehr.example/fhir/R4/',
      VNA_FHIR_PUBLISH_TOKEN_URL: 'https://ehr.example/token',
      VNA_FHIR_PUBLISH_CLIENT_ID: 'vna',
      VNA_FHIR_PUBLISH_CLIENT_SECRET: 's3cret',
      VNA_FHIR_PATIENT_ID_SYSTEMS: 'HOSP=urn:oid:1.2.3, CLINIC=https://clinic.example/mrn',
      VNA_FHIR_CREATE_PATIENTS: 'true',
      VNA_STUDY_STABLE_SECONDS: '1',
    });
    expect(c.fhir.publish).toEqual({ url: 'https://ehr.example/fhir/R4', auth: expect.objectContaining({ kind: 'smart', clientId: 'vna', clientSecret: 's3cret' }) });
    expect(c.fhir).toMatchObject({ patientIdentifierSystems: { HOSP: 'urn:oid:1.2.3', CLINIC: 'https://clinic.example/mrn' }, createPatients: true, studyStableMs: 1000 });
    expect(loadConfig({ VNA_FHIR_PUBLISH_URL: 'http://ehr/fhir', VNA_FHIR_PUBLISH_TOKEN: 't' }).fhir.publish?.auth).toEqual({ kind: 'bearer', token: 't' });
    expect(() => loadConfig({ VNA_FHIR_PUBLISH_URL: 'ftp://ehr' })).toThrow(/VNA_FHIR_PUBLISH_URL/);
    expect(() => loadConfig({ VNA_FHIR_PUBLISH_URL: 'http://ehr', VNA_FHIR_PUBLISH_TOKEN_URL: 'http://ehr/token' })).toThrow(/VNA_FHIR_PUBLISH_CLIENT_ID/);
    expect(() => loadConfig({ VNA_FHIR_PATIENT_ID_SYSTEMS: 'HOSP=not a uri' })).toThrow(/VNA_FHIR_PATIENT_ID_SYSTEMS: "HOSP=not a uri"/);
    expect(() => loadConfig({ VNA_STUDY_STABLE_SECONDS: '-1' })).toThrow(/VNA_STUDY_STABLE_SECONDS/);
  });
});
