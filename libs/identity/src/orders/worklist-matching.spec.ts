import { describe, expect, it } from '@jest/globals';
import { matchText, matchValueList, SqlParams, wildcardToLike } from '#vna/archive';
import type { DicomJson } from '#vna/dicom';
import { keyText, matchPersonName, matchStart, WorklistQueryError, worklistConditions } from './worklist-matching.js';

/** Conditions and their parameters, placeholders replaced by the values (for reading the assertions). */
function sql(build: (p: SqlParams) => string[] | string | undefined): string[] {
  const p = new SqlParams();
  const out = build(p);
  const list = out === undefined ? [] : Array.isArray(out) ? out : [out];
  return list.map((c) => c.replace(/\$(\d+)/g, (_, n: string) => JSON.stringify(p.values[Number(n) - 1])));
}

function query(top: Record<string, string>, sps: Record<string, string> = {}): DicomJson {
  const attr = (vr: string, v: string) => (v === '' ? { vr } : { vr, Value: [vr === 'PN' ? { Alphabetic: v } : v] });
  const vrs: Record<string, string> = { '00100010': 'PN', '00100020': 'LO', '00080050': 'SH', '00400001': 'AE', '00080060': 'CS', '00400002': 'DA', '00400003': 'TM', '00400020': 'CS' };
  const json: DicomJson = {};
  for (const [k, v] of Object.entries(top)) json[k] = attr(vrs[k] ?? 'LO', v);
  const item: DicomJson = {};
  for (const [k, v] of Object.entries(sps)) item[k] = attr(vrs[k] ?? 'LO', v);
  json['00400100'] = { vr: 'SQ', Value: [item] };
  return json;
}

describe('worklist matching (PS3.4 K.6.1.2.1, C.2.2.2)', () => {
  it('turns * and ? into LIKE wildcards and escapes LIKE metacharacters', () => {
    expect(wildcardToLike('AB*C?')).toBe('AB%C_');
    expect(wildcardToLike('50%_a\\b')).toBe('50\\%\\_a\\\\b');
  });

  it('single value, wildcard and universal matching', () => {
    expect(sql((p) => matchText('c', 'P-1', p))).toEqual(['c = "P-1"']);
    expect(sql((p) => matchText('c', 'P-*', p))).toEqual(['c LIKE "P-%"']);
    expect(sql((p) => matchText('c', '*', p))).toEqual([]);
    expect(sql((p) => matchText('c', '', p))).toEqual([]);
    expect(sql((p) => matchText('c', 'mül*', p, true))).toEqual(['upper(c) LIKE "MÜL%"']);
  });

  it('a list of values (C.2.2.2.7)', () => {
    expect(sql((p) => matchValueList('m', 'CT\\MR', p))).toEqual(['m = ANY(["CT","MR"]::text[])']);
    expect(sql((p) => matchValueList('m', 'CT', p))).toEqual(['m = "CT"']);
  });

  it('person names: one value matches any group (alphabetic case-insensitively); A=I=P each group', () => {
    expect(sql((p) => matchPersonName(['a', 'i', 'p'], 'Yamada*', p))).toEqual(['(upper(a) LIKE "YAMADA%" OR i LIKE "Yamada%" OR p LIKE "Yamada%")']);
    expect(sql((p) => matchPersonName(['a', 'i', 'p'], 'Yamada^Tarou=山田^太郎', p))).toEqual(['(upper(a) = "YAMADA^TAROU" AND i = "山田^太郎")']);
  });

  it('start date and time ranges: single, open-ended, and date and time each on its own (no combined date-time matching negotiated)', () => {
    expect(sql((p) => matchStart('d', 't', '20241120', '', p))).toEqual(['d = "20241120"']);
    expect(sql((p) => matchStart('d', 't', '20241120-', '', p))).toEqual(['d >= "20241120"']);
    expect(sql((p) => matchStart('d', 't', '-20241120', '', p))).toEqual(['d <= "20241120"']);
    expect(sql((p) => matchStart('d', 't', '20241120-20241122', '', p))).toEqual(['d >= "20241120"', 'd <= "20241122"']);
    // 08:00 to 17:59:59 on the 2nd and on the 3rd (a partial time's end covers the unit it names).
    expect(sql((p) => matchStart('d', 't', '20241102-20241103', '0800-17', p))).toEqual(['d >= "20241102"', 'd <= "20241103"', 't >= "0800"', 't <= "175959.999999"']);
    expect(sql((p) => matchStart('d', 't', '', '0800-1200', p))).toEqual(['t >= "0800"', 't <= "120059.999999"']);
    // ACR-NEMA style dates and times are taken.
    expect(sql((p) => matchStart('d', 't', '2024.11.20', '', p))).toEqual(['d = "20241120"']);
  });

  it('refuses malformed dates and times with WorklistQueryError', () => {
    for (const [d, t] of [
      ['2024-11-20', ''],
      ['20241320x', ''],
      ['yesterday', ''],
      ['20241120', '25h'],
      ['', '0800-noon'],
    ] as const) {
      expect(() => matchStart('d', 't', d, t, new SqlParams())).toThrow(WorklistQueryError);
    }
    // The whole value is named, not a piece of it.
    expect(() => matchStart('d', 't', '2024-11-20', '', new SqlParams())).toThrow('"2024-11-20" is not a single value or a range');
  });

  it('reads key values: joined values, person names as A=I=P', () => {
    expect(keyText({ vr: 'CS', Value: ['CT', 'MR'] })).toBe('CT\\MR');
    expect(keyText({ vr: 'PN', Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' }] })).toBe('Yamada^Tarou=山田^太郎');
    expect(keyText({ vr: 'PN' })).toBe('');
    expect(keyText(undefined)).toBe('');
  });

  describe('worklistConditions', () => {
    it('always keeps to open steps; empty keys add nothing', () => {
      expect(sql((p) => worklistConditions(query({ '00100010': '', '00100020': '' }, { '00400001': '', '00080060': '', '00400002': '' }), p))).toEqual([
        `ss.status IN ('scheduled', 'in-progress')`,
      ]);
    });

    it('matches patient id, accession, station AE, modality and start date inside the step sequence', () => {
      const q = query({ '00100020': 'P-1', '00080050': 'ACC*' }, { '00400001': 'CT01', '00080060': 'CT\\MR', '00400002': '20241120-20241121' });
      expect(sql((p) => worklistConditions(q, p))).toEqual([
        `ss.status IN ('scheduled', 'in-progress')`,
        'COALESCE(cur.patient_id, o.patient_id) = "P-1"',
        'o.accession_number LIKE "ACC%"',
        'ss.station_aet = "CT01"',
        'ss.modality = ANY(["CT","MR"]::text[])',
        'ss.start_date >= "20241120"',
        'ss.start_date <= "20241121"',
      ]);
    });

    it('a step status key narrows among the open states; an ended state matches nothing', () => {
      expect(sql((p) => worklistConditions(query({}, { '00400020': 'STARTED' }), p))).toContain('ss.status = ANY(["in-progress"]::text[])');
      expect(sql((p) => worklistConditions(query({}, { '00400020': 'COMPLETED' }), p))).toContain('ss.status = ANY(["none"]::text[])');
    });

    it('refuses a malformed Study Instance UID key', () => {
      expect(() => worklistConditions({ '0020000D': { vr: 'UI', Value: ['1.2.abc'] } }, new SqlParams())).toThrow(WorklistQueryError);
    });
  });
});
