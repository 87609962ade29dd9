export { MultipartError } from './multipart.error.js';
export type { MultipartErrorCode } from './multipart.error.js';
export { createBoundary, isValidBoundary } from './boundary.js';
export { boundaryFromContentType, formatMediaType, parseAccept, parseMediaType } from './content-type.js';
export type { MediaRange, MediaType } from './content-type.js';
export { DEFAULT_MAX_HEADER_BYTES, parseMultipart } from './multipart-related.parser.js';
export type { MultipartParseOptions, MultipartPart } from './multipart-related.parser.js';
export { writeMultipart } from './multipart-related.writer.js';
export type { MultipartWriter, MultipartWriterPart } from './multipart-related.writer.js';
