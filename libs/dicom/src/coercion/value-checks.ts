import type { DicomJson } from '../json/dicom-json.js';
import { isValidUid } from '../uid.js';

/**
 * Values the archive keeps but reports (PS3.5 9.1 for UIDs): an invalid UID is indexed as
 * received, never refused or "repaired" (a wrong repair would split a study), and the sender
 * learns of it through the warning. IS/DS values that do not parse are reported when the JSON is
 * built (datasetToJson `warnings`).
 */
export function reportInvalidValues(json: DicomJson, warnings: string[]): void {
  for (const key in json) {
    const attr = json[key]!;
    if (attr.vr !== 'UI' || !attr.Value) continue;
    for (const v of attr.Value) {
      if (typeof v === 'string' && v !== '' && !isValidUid(v)) warnings.push(`invalid UID in ${key}`);
    }
  }
}
