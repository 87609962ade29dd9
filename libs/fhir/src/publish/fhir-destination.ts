import type { FhirAuth } from '#vna/config';

/** A FHIR server that receives ImagingStudy: the configured one (`env`) or one of /api/v1/fhir-destinations. */
export interface FhirDestination {
  /** 'env' for VNA_FHIR_PUBLISH_URL, else the fhir_destination id. */
  readonly key: string;
  readonly name: string;
  readonly baseUrl: string;
  readonly auth: FhirAuth;
  readonly patientIdentifierSystems: Readonly<Record<string, string>>;
  readonly createPatients: boolean;
  readonly enabled: boolean;
  readonly source: 'config' | 'api';
}

export const ENV_DESTINATION = 'env';

/** What the API shows of a destination: secrets never leave. */
export function redacted(d: FhirDestination): Omit<FhirDestination, 'auth'> & { auth: Record<string, unknown> } {
  const a = d.auth;
  const auth =
    a.kind === 'bearer'
      ? { kind: 'bearer', token: '***' }
      : a.kind === 'smart'
        ? { kind: 'smart', tokenUrl: a.tokenUrl, clientId: a.clientId, scope: a.scope, clientSecret: a.clientSecret ? '***' : undefined, privateKeyFile: a.privateKeyFile }
        : { kind: 'none' };
  return { ...d, auth };
}
