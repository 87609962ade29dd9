import { EXPLICIT_LE } from '../reader/dataset-reader.js';
import { Tag } from '../tags.js';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../uid.js';
import { encodeDataset, type WriteElement } from './dataset-writer.js';

export interface FileMetaInformation {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly transferSyntaxUid: string;
}

/**
 * Preamble, "DICM" and the File Meta Information (PS3.10 7.1), written deterministically from the
 * three facts that describe the dataset: the same dataset always gets the same header, so the
 * stored file (and its SHA-256) does not depend on who sent it or how.
 */
export function buildPart10Header(info: FileMetaInformation): Buffer {
  const elements: WriteElement[] = [
    { tag: Tag.FileMetaInformationVersion, vr: 'OB', value: Buffer.of(0x00, 0x01) },
    { tag: Tag.MediaStorageSOPClassUID, vr: 'UI', value: info.sopClassUid },
    { tag: Tag.MediaStorageSOPInstanceUID, vr: 'UI', value: info.sopInstanceUid },
    { tag: Tag.TransferSyntaxUID, vr: 'UI', value: info.transferSyntaxUid },
    { tag: Tag.ImplementationClassUID, vr: 'UI', value: IMPLEMENTATION_CLASS_UID },
    { tag: Tag.ImplementationVersionName, vr: 'SH', value: IMPLEMENTATION_VERSION_NAME },
  ];
  const group = encodeDataset(elements, EXPLICIT_LE);
  const groupLength = encodeDataset([{ tag: Tag.FileMetaInformationGroupLength, vr: 'UL', value: [group.length] }], EXPLICIT_LE);
  const preamble = Buffer.alloc(132);
  preamble.write('DICM', 128, 'latin1');
  return Buffer.concat([preamble, groupLength, group]);
}
