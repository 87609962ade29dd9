import { Tag } from './tags.js';

/** One stretch of encapsulated pixel data (PS3.5 A.4): where its bytes are in the stored file. */
export interface Fragment {
  readonly offset: number;
  readonly length: number;
}

/**
 * An element as read. Values stay as raw bytes (decoding needs the character set and VR, which
 * the consumer applies); large binary values are not kept at all, only where they are in the file.
 */
export interface DicomElement {
  readonly tag: number;
  readonly vr: string;
  /** Absolute offset of the value's first byte in the stored file. */
  readonly offset: number;
  /** Bytes of the element's header (tag, VR, length) before `offset`: 8 or 12. */
  readonly headerLength?: number;
  /** Value length in bytes (for undefined-length items and sequences: the bytes they spanned). */
  readonly length: number;
  readonly undefinedLength?: boolean;
  /** Raw value bytes, for elements that are neither sequences nor bulk data. */
  readonly value?: Buffer;
  /** Items of a sequence (SQ, or UN/implicit of undefined length, PS3.5 6.2.2). */
  readonly items?: DicomDataset[];
  /** True when the value was too large to keep, or is pixel data: it is read from the file on demand. */
  readonly bulk?: boolean;
  /** Fragments of encapsulated pixel data, the Basic Offset Table first (PS3.5 A.4). */
  readonly fragments?: Fragment[];
}

/** A dataset (or sequence item): elements by tag, in tag order as read. */
export class DicomDataset {
  readonly elements = new Map<number, DicomElement>();

  /** Numbers in the values are in this byte order (only Explicit VR Big Endian differs). */
  constructor(readonly littleEndian = true) {}

  get(tag: number): DicomElement | undefined {
    return this.elements.get(tag);
  }

  has(tag: number): boolean {
    return this.elements.has(tag);
  }

  set(element: DicomElement): void {
    this.elements.set(element.tag, element);
  }

  /** Raw value bytes with padding untouched; undefined for absent, sequence or bulk elements. */
  bytes(tag: number): Buffer | undefined {
    return this.elements.get(tag)?.value;
  }

  /**
   * A value of a VR in the default repertoire (UI, CS, DA, TM, IS, DS, AE, AS): ASCII, so no
   * character set is needed. Leading/trailing spaces and a trailing NUL (UI padding) are removed.
   */
  ascii(tag: number): string | undefined {
    const value = this.bytes(tag);
    if (value === undefined) return undefined;
    return trimAscii(value.toString('latin1'));
  }

  /** All values of a multi-valued default-repertoire element. */
  asciiValues(tag: number): string[] {
    const text = this.ascii(tag);
    if (text === undefined || text === '') return [];
    return text.split('\\').map((v) => v.trim());
  }

  /** The values of Specific Character Set (0008,0005) as written. */
  specificCharacterSet(): string[] | undefined {
    const value = this.bytes(Tag.SpecificCharacterSet);
    if (value === undefined) return undefined;
    return value.toString('latin1').split('\\').map((v) => v.trim());
  }

  uint16(tag: number): number | undefined {
    const el = this.elements.get(tag);
    if (!el?.value || el.value.length < 2) return undefined;
    return this.littleEndian ? el.value.readUInt16LE(0) : el.value.readUInt16BE(0);
  }

  /** An IS value, or a US one, as a number. */
  integer(tag: number): number | undefined {
    const el = this.elements.get(tag);
    if (!el?.value) return undefined;
    if (el.vr === 'US') return this.uint16(tag);
    const n = parseInt(trimAscii(el.value.toString('latin1')).split('\\')[0] ?? '', 10);
    return Number.isFinite(n) ? n : undefined;
  }
}

export function trimAscii(text: string): string {
  return text.replace(/^[\s\0]+|[\s\0]+$/g, '');
}
