/**
 * Stable codes for everything that can go wrong reading or writing a multipart/related
 * body or its media-type headers. The HTTP edge maps `code` (or the suggested
 * `httpStatus`) to a response; the message is for logs and may change.
 */
export type MultipartErrorCode =
  /** A Content-Type or media type that does not follow RFC 9110 8.3.1 / 5.6.6 syntax. */
  | 'INVALID_MEDIA_TYPE'
  /** A request whose Content-Type is not multipart/* (STOW-RS needs multipart/related, PS3.18 10.5.1.1). */
  | 'UNSUPPORTED_MEDIA_TYPE'
  /** multipart/* without a boundary parameter (RFC 2046 5.1.1 makes it mandatory). */
  | 'MISSING_BOUNDARY'
  /** A boundary that is empty, too long or contains characters RFC 2046 5.1.1 does not allow. */
  | 'INVALID_BOUNDARY'
  /** The body does not follow the RFC 2046 5.1.1 grammar (no first boundary, bad delimiter line, bad header line). */
  | 'MALFORMED'
  /** The body ended (or its stream closed) before the close delimiter. */
  | 'TRUNCATED'
  /** A part's header block exceeds `maxHeaderBytes`. */
  | 'HEADER_TOO_LARGE'
  /** A part body exceeds `maxPartBytes`, or the whole body exceeds `maxTotalBytes`. */
  | 'TOO_LARGE'
  /** The writer was given a header name or value that cannot be sent (would allow header injection). */
  | 'INVALID_HEADER';

const HTTP_STATUS: Readonly<Record<MultipartErrorCode, number>> = {
  INVALID_MEDIA_TYPE: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  MISSING_BOUNDARY: 400,
  INVALID_BOUNDARY: 400,
  MALFORMED: 400,
  TRUNCATED: 400,
  HEADER_TOO_LARGE: 400,
  TOO_LARGE: 413,
  // Only the writer raises it, and a bad header we send is our bug, not the client's.
  INVALID_HEADER: 500,
};

export class MultipartError extends Error {
  /** The status an HTTP edge would normally answer with for this code. */
  readonly httpStatus: number;

  constructor(
    readonly code: MultipartErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MultipartError';
    this.httpStatus = HTTP_STATUS[code];
  }
}
