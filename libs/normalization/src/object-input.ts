import { inflateRawSync } from 'node:zlib';
import { type DicomJson, datasetToJson, lookupTransferSyntax, readPart10Prefix, readWholeDataset, Tag, tagToHex } from '#vna/dicom';
import { NormalizationError } from './normalization.errors.js';

const MAX_JSON_ATTRIBUTES = 10_000;

/**
 * A Part 10 object (a dry run's upload) as the DICOM JSON ingest coercion sees: text decoded to
 * UTF-8, bulk data left out. Anything unreadable is refused with the reason (nothing is stored).
 */
export function part10ToJson(bytes: Buffer): DicomJson {
  try {
    const prefix = readPart10Prefix(bytes, true);
    if (!prefix) throw new Error('the file ends inside its meta header');
    const ts = lookupTransferSyntax(prefix.transferSyntaxUid);
    if (!ts) throw new Error(`unknown transfer syntax ${prefix.transferSyntaxUid}`);
    let body = bytes.subarray(prefix.datasetOffset);
    if (ts.deflated) body = inflateRawSync(body);
    const json = datasetToJson(readWholeDataset(body, ts), { omit: new Set([Tag.PixelData]), inlineBinaryLimit: 4096 });
    return json;
  } catch (e) {
    throw new NormalizationError('invalid', 'INVALID_OBJECT', `not a readable DICOM Part 10 object: ${(e as Error).message}`);
  }
}

/** A DICOM JSON object as sent (PS3.18 F.2): an object of 8-hex-digit tags to attributes with a VR. */
export function checkDicomJson(input: unknown): DicomJson {
  const fail = (why: string) => new NormalizationError('invalid', 'INVALID_OBJECT', `object is not a DICOM JSON dataset: ${why}`);
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw fail('expected an object of attributes by tag');
  const entries = Object.entries(input as Record<string, unknown>);
  if (entries.length > MAX_JSON_ATTRIBUTES) throw fail(`more than ${MAX_JSON_ATTRIBUTES} attributes`);
  for (const [key, attr] of entries) {
    if (!/^[0-9A-Fa-f]{8}$/.test(key)) throw fail(`"${key}" is not a tag of 8 hex digits`);
    if (typeof attr !== 'object' || attr === null || typeof (attr as { vr?: unknown }).vr !== 'string' || !/^[A-Z]{2}$/.test((attr as { vr: string }).vr)) {
      throw fail(`${key} has no VR`);
    }
    const value = (attr as { Value?: unknown }).Value;
    if (value !== undefined && !Array.isArray(value)) throw fail(`${key}: Value must be a list`);
  }
  return Object.fromEntries(entries.map(([k, v]) => [tagToHex(parseInt(k, 16)), v])) as DicomJson;
}
