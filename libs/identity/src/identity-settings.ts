import { VNA_CONFIG, type VnaConfig } from '#vna/config';

/** What to do with a suspicious merge or identifier change (VNA_HL7_SUSPICIOUS_MERGE). */
export type SuspiciousMergePolicy = 'reject' | 'hold';

/** The identity settings, from the validated configuration. */
export interface IdentitySettings {
  /**
   * VNA_DEFAULT_PATIENT_ID_ISSUER: the issuer an identifier without one belongs to, the same for a
   * PID-3 without an assigning authority and a DICOM header without IssuerOfPatientID.
   */
  readonly defaultIssuer: string;
  /** `hold` (default: kept for HIM review, AA) or `reject` (AE with ERR, nothing kept). */
  readonly suspiciousMerge: SuspiciousMergePolicy;
}

export const IDENTITY_SETTINGS = Symbol('IDENTITY_SETTINGS');

export function identitySettings(config: VnaConfig): IdentitySettings {
  return { defaultIssuer: config.identity.defaultPatientIdIssuer, suspiciousMerge: config.identity.suspiciousMerge };
}

export const identitySettingsProvider = {
  provide: IDENTITY_SETTINGS,
  inject: [VNA_CONFIG],
  useFactory: identitySettings,
};
