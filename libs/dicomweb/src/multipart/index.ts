/**
 * multipart/related (RFC 2387, RFC 2046 5.1) for DICOMweb: streaming parser for STOW-RS request
 * bodies and WADO-RS responses (PS3.18 8.6, 10.5), streaming writer for both directions, and
 * Content-Type / Accept parsing for the negotiation of PS3.18 8.7.
 */
export { MultipartError } from './multipart.error.js';
export type { MultipartErrorCode } from './multipart.error.js';
export { createBoundary, isValidBoundary } from './boundary.js';
export { boundaryFromContentType, formatMediaType, parseAccept, parseMediaType } from './content-type.js';
export type { MediaRange, MediaType } from './content-type.js';
export { DEFAULT_MAX_HEADER_BYTES, parseMultipart } from './multipart-related.parser.js';
export type { MultipartParseOptions, MultipartPart } from './multipart-related.parser.js';
export { writeMultipart } from './multipart-related.writer.js';
export type { MultipartWriter, MultipartWriterPart } from './multipart-related.writer.js';
export { readAhead } from './read-ahead.js';
