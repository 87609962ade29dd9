import type { Endpoint } from '@medplum/fhirtypes';

/** The identifier system of the archive's Endpoint: its address as a URI. */
export const WADO_ENDPOINT_SYSTEM = 'urn:ietf:rfc:3986';
/** The id of the archive's own Endpoint in its FHIR API. */
export const WADO_ENDPOINT_ID = 'wado-rs';

/**
 * The archive's DICOMweb service as an R4 Endpoint (https://hl7.org/fhir/R4/endpoint.html):
 * connection type dicom-wado-rs (http://terminology.hl7.org/CodeSystem/endpoint-connection-type),
 * the payloads it serves as DICOM media types.
 */
export function wadoEndpoint(address: string, id?: string): Endpoint & { address: string } {
  return {
    resourceType: 'Endpoint',
    ...(id ? { id } : {}),
    identifier: [{ system: WADO_ENDPOINT_SYSTEM, value: address }],
    status: 'active',
    connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
    name: 'Vendor-neutral archive WADO-RS',
    payloadType: [{ text: 'DICOM' }],
    payloadMimeType: ['application/dicom'],
    address,
  };
}
