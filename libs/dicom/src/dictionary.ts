import dcmjs from 'dcmjs';
import { isPrivateCreator, tagElement, tagGroup } from './tags.js';

/**
 * The PS3.6 data dictionary: VR and keyword per tag. Implicit VR data carries no VR on the wire,
 * so the reader needs it; the JSON model needs it for every element (PS3.18 F.2.3).
 * The table comes from dcmjs (a dependency of dcmjs-dimse), built once into a Map.
 */
export interface DictionaryEntry {
  readonly vr: string;
  readonly keyword: string;
}

interface DcmjsNameMapEntry {
  tag: string;
  vr: string;
  name: string;
}

const byTag = new Map<number, DictionaryEntry>();
const byKeyword = new Map<string, number>();

const nameMap = (dcmjs as unknown as { data: { DicomMetaDictionary: { nameMap: Record<string, DcmjsNameMapEntry> } } })
  .data.DicomMetaDictionary.nameMap;
for (const keyword of Object.keys(nameMap)) {
  const entry = nameMap[keyword];
  if (!entry) continue;
  const hex = entry.tag.replace(/[(),]/g, '');
  if (!/^[0-9A-F]{8}$/i.test(hex)) continue;
  const tag = parseInt(hex, 16) >>> 0;
  byTag.set(tag, { vr: normalizeDictionaryVr(entry.vr), keyword: entry.name });
  byKeyword.set(entry.name, tag);
}

/**
 * dcmjs marks VRs that depend on context in lower case: `ox` (OB or OW), `xs` (US or SS),
 * `lt` (US or OW), `up` (UL offsets), `na` (items). Implicit VR data gets the conventional choice:
 * OW for pixel data, US for pixel values (PS3.5 A.1 notes), UL for offsets.
 */
function normalizeDictionaryVr(vr: string): string {
  switch (vr) {
    case 'ox':
      return 'OW';
    case 'xs':
      return 'US';
    case 'lt':
      return 'OW';
    case 'up':
      return 'UL';
    case 'na':
      return 'UN';
    default:
      return vr.length === 2 ? vr.toUpperCase() : 'UN';
  }
}

/** Repeating groups (PS3.5 7.6): curves 50xx and overlays 60xx share the definitions of 5000/6000. */
function canonicalRepeatingTag(tag: number): number {
  const group = tagGroup(tag);
  if ((group & 0xff00) === 0x5000 || (group & 0xff00) === 0x6000) {
    return (((group & 0xff00) << 16) | tagElement(tag)) >>> 0;
  }
  return tag;
}

export function lookupTag(tag: number): DictionaryEntry | undefined {
  return byTag.get(tag) ?? byTag.get(canonicalRepeatingTag(tag));
}

/** The VR to use when the data itself does not say (implicit VR transfer syntax). */
export function implicitVr(tag: number): string {
  if (tagElement(tag) === 0x0000) return 'UL'; // group length (PS3.5 7.2)
  if (isPrivateCreator(tag)) return 'LO';
  return lookupTag(tag)?.vr ?? 'UN';
}

export function keywordOf(tag: number): string | undefined {
  return lookupTag(tag)?.keyword;
}

export function tagOfKeyword(keyword: string): number | undefined {
  return byKeyword.get(keyword);
}
