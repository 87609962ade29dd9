/** The data is not valid DICOM, or not readable as such; `offset` is where reading stopped. */
export class DicomParseError extends Error {
  constructor(
    message: string,
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.name = 'DicomParseError';
  }
}

/** Internal signal: the buffer ends before the element does. Never escapes the reader. */
export class NeedMoreData extends Error {
  constructor() {
    super('need more data');
  }
}

export const NEED_MORE = new NeedMoreData();
