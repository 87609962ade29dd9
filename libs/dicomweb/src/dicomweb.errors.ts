/** An HTTP-level answer from the DICOMweb edge (PS3.18 status codes), turned into problem+json. */
export class DicomwebError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'DicomwebError';
  }
}
