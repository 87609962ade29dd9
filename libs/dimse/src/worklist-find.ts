import {
  CharsetEncodeError,
  datasetToJson,
  type DicomDataset,
  type DicomJson,
  type DicomJsonAttribute,
  EXPLICIT_LE,
  encodeDataset,
  IMPLICIT_LE,
  jsonToElements,
  lookupTransferSyntax,
  readWholeDataset,
  Tag,
  tagToHex,
  TS,
  type WriteElement,
} from '#vna/dicom';
import { IdentifierError } from './identifier.js';

/** Keys that are about the query itself, not worklist attributes. */
const NOT_KEYS = new Set([tagToHex(Tag.SpecificCharacterSet), tagToHex(Tag.QueryRetrieveLevel)]);

/** A worklist query: its keys, and the character set the modality declared for them. */
export interface WorklistQuery {
  readonly keys: DicomJson;
  /** Specific Character Set (0008,0005) values of the identifier; empty for the default repertoire. */
  readonly characterSet: readonly string[];
}

/**
 * A Modality Worklist C-FIND identifier (PS3.4 K.6.1.2.1), sequences included: the matching keys
 * inside the Scheduled Procedure Step Sequence item are where a modality asks for its station,
 * modality and day. Text is decoded with the identifier's own Specific Character Set.
 */
export function readWorklistQuery(bytes: Buffer, transferSyntaxUid: string): WorklistQuery {
  const ts = lookupTransferSyntax(transferSyntaxUid);
  if (!ts || ts.encapsulated || ts.deflated) throw new IdentifierError(`identifier in unsupported transfer syntax ${transferSyntaxUid}`);
  let ds: DicomDataset;
  try {
    ds = readWholeDataset(bytes, ts);
  } catch (e) {
    throw new IdentifierError(`identifier cannot be read: ${(e as Error).message}`);
  }
  const json = datasetToJson(ds, { inlineBinaryLimit: 0 });
  const characterSet = (ds.specificCharacterSet() ?? []).map((v) => v.trim());
  for (const key of Object.keys(json)) if (NOT_KEYS.has(key) || key.endsWith('0000')) delete json[key];
  return { keys: json, characterSet };
}

/**
 * The response identifier's content: exactly the keys asked for, at every level (PS3.4 K.6.1.2.2,
 * C.2.2.1.3). A sequence key with an item returns, per item of the match, that item's keys; an
 * empty sequence key (no item, or an empty one) asks for the whole sequence (C.2.2.2.6). A key the
 * match lacks comes back empty.
 */
export function shapeWorklistResponse(match: DicomJson, query: DicomJson): DicomJson {
  const out: DicomJson = {};
  for (const [key, asked] of Object.entries(query)) {
    const have = match[key];
    if (asked.vr === 'SQ') {
      const template = asked.Value?.[0] as DicomJson | undefined;
      if (!have) out[key] = { vr: 'SQ', Value: [] };
      else if (!template || Object.keys(template).length === 0) out[key] = have;
      else out[key] = { vr: 'SQ', Value: (have.Value ?? []).map((item) => shapeWorklistResponse(item as DicomJson, template)) };
      continue;
    }
    out[key] = have ?? ({ vr: asked.vr } satisfies DicomJsonAttribute);
  }
  return out;
}

function isAscii(json: DicomJson): boolean {
  return /^[\x00-\x7f]*$/.test(JSON.stringify(json));
}

/** Single-byte character sets without code extensions: a modality that asks in one gets its answers in it when they fit. */
const SINGLE_BYTE_SETS = new Set(['ISO_IR 100', 'ISO_IR 101', 'ISO_IR 109', 'ISO_IR 110', 'ISO_IR 126', 'ISO_IR 127', 'ISO_IR 138', 'ISO_IR 144', 'ISO_IR 148', 'ISO_IR 166', 'ISO_IR 203']);

/**
 * Encodes a worklist match for the response. All-ASCII text goes out in the default repertoire;
 * other text in the character set the query declared when it is a single-byte set that can write
 * it (ISO_IR 100 for a Latin-1 modality, say), else in UTF-8 (ISO_IR 192). Either way the
 * response declares what it uses.
 */
export function encodeWorklistResponse(match: DicomJson, query: WorklistQuery, transferSyntaxUid: string): Buffer {
  const shaped = shapeWorklistResponse(match, query.keys);
  // A key the archive cannot write (no VR known) is left out.
  const elements: WriteElement[] = jsonToElements(shaped).filter((e) => e.vr !== 'UN');
  const ts = transferSyntaxUid === TS.ImplicitVRLittleEndian ? IMPLICIT_LE : (lookupTransferSyntax(transferSyntaxUid) ?? EXPLICIT_LE);
  if (isAscii(shaped)) return encodeDataset(elements, ts);
  const asked = query.characterSet.length === 1 ? query.characterSet[0]! : '';
  if (SINGLE_BYTE_SETS.has(asked)) {
    try {
      return encodeDataset([...elements, { tag: Tag.SpecificCharacterSet, vr: 'CS', value: asked }], ts);
    } catch (e) {
      // A character the set cannot write: UTF-8 writes everything.
      if (!(e instanceof CharsetEncodeError)) throw e;
    }
  }
  return encodeDataset([...elements, { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' }], ts);
}
