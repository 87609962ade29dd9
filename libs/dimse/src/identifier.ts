import {
  type DicomDataset,
  type DicomJson,
  decodeText,
  EXPLICIT_LE,
  IMPLICIT_LE,
  encodeDataset,
  implicitVr,
  jsonToElements,
  lookupTransferSyntax,
  readWholeDataset,
  Tag,
  tagToHex,
  TS,
  type WriteElement,
} from '#vna/dicom';

/** A C-FIND/C-MOVE/C-GET identifier, decoded: keys as text, PN with its '=' groups. */
export interface Identifier {
  readonly level: string;
  readonly keys: Map<number, string>;
  /** Every tag asked for, in order (C-FIND returns exactly these). */
  readonly requested: number[];
}

export class IdentifierError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdentifierError';
  }
}

const TEXT_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);

/** Reads an identifier from its raw bytes, decoding text with its own Specific Character Set. */
export function readIdentifier(bytes: Buffer, transferSyntaxUid: string): Identifier {
  const ts = lookupTransferSyntax(transferSyntaxUid);
  if (!ts || ts.encapsulated || ts.deflated) throw new IdentifierError(`identifier in unsupported transfer syntax ${transferSyntaxUid}`);
  let ds: DicomDataset;
  try {
    ds = readWholeDataset(bytes, ts);
  } catch (e) {
    throw new IdentifierError(`identifier cannot be read: ${(e as Error).message}`);
  }
  const charset = ds.specificCharacterSet();
  const keys = new Map<number, string>();
  const requested: number[] = [];
  for (const [tag, el] of ds.elements) {
    if (tag === Tag.SpecificCharacterSet || tag === Tag.QueryRetrieveLevel || (tag & 0xffff) === 0) continue;
    requested.push(tag);
    if (el.vr === 'SQ' || !el.value) {
      keys.set(tag, '');
      continue;
    }
    if (TEXT_VRS.has(el.vr)) keys.set(tag, decodeText(el.value, charset, el.vr).replace(/^[\s\0]+|[\s\0]+$/g, ''));
    else keys.set(tag, '');
  }
  const level = ds.ascii(Tag.QueryRetrieveLevel) ?? '';
  return { level, keys, requested };
}

function isAscii(json: DicomJson): boolean {
  return /^[\x00-\x7f]*$/.test(JSON.stringify(json));
}

/**
 * A C-FIND response identifier: exactly the requested keys (empty when unknown), in the
 * presentation context's transfer syntax, text in UTF-8 (ISO_IR 192) unless it is all ASCII,
 * with Specific Character Set declared accordingly.
 */
export function encodeResponseIdentifier(match: DicomJson, identifier: Identifier, level: string, transferSyntaxUid: string): Buffer {
  const out: DicomJson = {};
  for (const tag of identifier.requested) {
    const hex = tagToHex(tag);
    const attr = match[hex];
    out[hex] = attr ?? { vr: implicitVr(tag) };
  }
  // A key the archive knows nothing of (no VR in the dictionary) cannot be written; leave it out.
  const elements: WriteElement[] = jsonToElements(out).filter((e) => e.vr !== 'UN');
  elements.push({ tag: Tag.QueryRetrieveLevel, vr: 'CS', value: level });
  if (!isAscii(out)) elements.push({ tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' });
  const ts = transferSyntaxUid === TS.ImplicitVRLittleEndian ? IMPLICIT_LE : lookupTransferSyntax(transferSyntaxUid) ?? EXPLICIT_LE;
  return encodeDataset(elements, ts);
}
