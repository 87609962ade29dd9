import { describe, expect, it } from '@jest/globals';
import type { DicomJson } from '#vna/dicom';
import { parseRejectionNote, RejectionNoteError } from './rejection-note.js';

const ui = (v: string) => ({ vr: 'UI', Value: [v] });

function kos(code: string | undefined, evidence: DicomJson[] | undefined, scheme = 'DCM'): DicomJson {
  const json: DicomJson = {};
  if (code !== undefined) json['0040A043'] = { vr: 'SQ', Value: [{ '00080100': { vr: 'SH', Value: [code] }, '00080102': { vr: 'SH', Value: [scheme] } }] };
  if (evidence !== undefined) json['0040A375'] = { vr: 'SQ', Value: evidence };
  return json;
}

const study = (uid: string, series: DicomJson[]): DicomJson => ({ '0020000D': ui(uid), '00081115': { vr: 'SQ', Value: series } });
const series = (uid: string, sops: string[]): DicomJson => ({
  '0020000E': ui(uid),
  '00081199': { vr: 'SQ', Value: sops.map((s) => ({ '00081150': ui('1.2.840.10008.5.1.4.1.1.2'), '00081155': ui(s) })) },
});

describe('parseRejectionNote', () => {
  it('reads the reason and every referenced instance (once each)', () => {
    const note = parseRejectionNote(kos('113039', [study('1.1', [series('1.1.1', ['1.1.1.1', '1.1.1.2']), series('1.1.2', ['1.1.2.1', '1.1.1.1'])]), study('1.2', [series('1.2.1', ['1.2.1.1'])])]));
    expect(note?.code).toBe('113039');
    expect(note?.meaning).toBe('Data Retention Policy Expired');
    expect(note?.references.map((r) => [r.studyUid, r.seriesUid, r.sopInstanceUid])).toEqual([
      ['1.1', '1.1.1', '1.1.1.1'],
      ['1.1', '1.1.1', '1.1.1.2'],
      ['1.1', '1.1.2', '1.1.2.1'],
      ['1.2', '1.2.1', '1.2.1.1'],
    ]);
  });

  it('an ordinary key object note (another CID 7010 title) is not a rejection', () => {
    expect(parseRejectionNote(kos('113000', undefined))).toBeUndefined();
  });

  it.each([
    ['no title', kos(undefined, []), /no Document Title/],
    ['unknown code', kos('113099', [study('1.1', [series('1.1.1', ['1'])])]), /unknown/],
    ['other scheme', kos('113001', [study('1.1', [series('1.1.1', ['1'])])], 'SRT'), /unknown/],
    ['no evidence', kos('113001', undefined), /Evidence Sequence/],
    ['empty evidence', kos('113037', []), /Evidence Sequence/],
    ['no series', kos('113038', [study('1.1', [])]), /Referenced Series Sequence/],
    ['no instances', kos('113001', [study('1.1', [series('1.1.1', [])])]), /Referenced SOP Sequence/],
    ['no study UID', kos('113001', [{ '00081115': { vr: 'SQ', Value: [series('1.1.1', ['1'])] } }]), /Study Instance UID/],
  ])('refuses a note with %s', (_what, json, message) => {
    expect(() => parseRejectionNote(json)).toThrow(RejectionNoteError);
    expect(() => parseRejectionNote(json)).toThrow(message);
  });
});
