import { DicomDataset } from '../element.js';
import { Tag } from '../tags.js';
import { EXPLICIT_LE, readElement, readHeader } from './dataset-reader.js';
import { DicomParseError, NeedMoreData } from './errors.js';

/** What precedes the dataset in a DICOM file (PS3.10 7.1): preamble, "DICM", File Meta Information. */
export interface Part10Prefix {
  readonly meta: DicomDataset;
  /** Offset of the first dataset byte in the input. */
  readonly datasetOffset: number;
  readonly transferSyntaxUid: string;
}

const PREAMBLE_LENGTH = 128;

function hasDicmPrefix(b: Buffer): boolean {
  return b.length >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d;
}

/** Some writers omit the preamble and start with the meta group; accept that, as dcmtk does. */
function startsWithMetaGroup(b: Buffer): boolean {
  return b.length >= 6 && b.readUInt16LE(0) === 0x0002 && b[4] === 0x55 && (b[5] === 0x4c || b[5] === 0x42); // "UL" or "OB"
}

/**
 * Reads the preamble and File Meta Information (always Explicit VR Little Endian, PS3.10 7.1).
 * Returns undefined when more bytes are needed (never when `final`); throws DicomParseError when
 * the input is not a Part 10 file or the meta information is unusable.
 */
export function readPart10Prefix(b: Buffer, final: boolean): Part10Prefix | undefined {
  let pos: number;
  if (b.length < 132 && !final && !startsWithMetaGroup(b)) return undefined;
  if (hasDicmPrefix(b)) pos = PREAMBLE_LENGTH + 4;
  else if (startsWithMetaGroup(b)) pos = 0;
  else throw new DicomParseError('not a DICOM file: no "DICM" prefix after the 128-byte preamble', 128);

  const meta = new DicomDataset(true);
  try {
    for (;;) {
      const header = readHeader(b, pos, EXPLICIT_LE);
      if (!header) {
        if (final) break;
        return undefined;
      }
      if (header.tag >>> 16 !== 0x0002) break;
      const { element, pos: next } = readElement({ b, base: 0, final }, pos, EXPLICIT_LE, 0);
      meta.set(element);
      pos = next;
    }
  } catch (e) {
    if (e instanceof NeedMoreData) return undefined;
    throw e;
  }
  const transferSyntaxUid = meta.ascii(Tag.TransferSyntaxUID);
  if (!transferSyntaxUid) throw new DicomParseError('File Meta Information has no Transfer Syntax UID (0002,0010)', pos);
  return { meta, datasetOffset: pos, transferSyntaxUid };
}
