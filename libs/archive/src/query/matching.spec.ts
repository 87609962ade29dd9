import { describe, expect, it } from '@jest/globals';
import { hasWildcard, matchTemporal, matchText, matchUidList, matchValueList, QueryValueError, SqlParams, wildcardToLike } from './matching.js';

/** Runs one matcher with fresh parameters: the SQL it made and the values it bound. */
function run(make: (p: SqlParams) => string | undefined): { sql: string | undefined; params: unknown[] } {
  const p = new SqlParams();
  const sql = make(p);
  return { sql, params: p.values };
}

describe('SqlParams', () => {
  it('numbers placeholders in the order values are added', () => {
    const p = new SqlParams();
    expect(p.add('a')).toBe('$1');
    expect(p.add(2)).toBe('$2');
    expect(p.add(['x'])).toBe('$3');
    expect(p.values).toEqual(['a', 2, ['x']]);
  });

  it('continues the numbering across matchers sharing it', () => {
    const p = new SqlParams();
    p.add('earlier');
    expect(matchText('c', 'X', p)).toBe('c = $2');
    expect(matchTemporal('d', 'DA', '20200101-20200131', p)).toBe('(d >= $3 AND d <= $4)');
    expect(p.values).toEqual(['earlier', 'X', '20200101', '20200131']);
  });
});

describe('wildcardToLike (PS3.4 C.2.2.2.4)', () => {
  it('turns * into % and ? into _', () => {
    expect(wildcardToLike('Sm*th?')).toBe('Sm%th_');
    expect(wildcardToLike('*')).toBe('%');
    expect(wildcardToLike('??')).toBe('__');
  });

  it("escapes LIKE's own metacharacters so they match themselves", () => {
    expect(wildcardToLike('50%')).toBe('50\\%');
    expect(wildcardToLike('O_Neil*')).toBe('O\\_Neil%');
    expect(wildcardToLike('a\\b')).toBe('a\\\\b');
    expect(wildcardToLike('%_\\*?')).toBe('\\%\\_\\\\%_');
  });

  it('leaves other characters, non-ASCII included, alone', () => {
    expect(wildcardToLike('山田*')).toBe('山田%');
    expect(wildcardToLike('Müller^Hans')).toBe('Müller^Hans');
  });

  it('hasWildcard sees * and ? only', () => {
    expect(hasWildcard('a*')).toBe(true);
    expect(hasWildcard('a?')).toBe(true);
    expect(hasWildcard('a%_')).toBe(false);
  });
});

describe('matchText', () => {
  it('is universal for an empty value or only asterisks', () => {
    for (const v of ['', '*', '***']) expect(run((p) => matchText('c', v, p))).toEqual({ sql: undefined, params: [] });
  });

  it('matches a single value exactly, LIKE metacharacters unescaped (no LIKE is used)', () => {
    expect(run((p) => matchText('p.patient_id', 'PID_1%', p))).toEqual({ sql: 'p.patient_id = $1', params: ['PID_1%'] });
  });

  it('matches wildcards with LIKE, metacharacters escaped', () => {
    expect(run((p) => matchText('c', 'O_N*', p))).toEqual({ sql: 'c LIKE $1', params: ['O\\_N%'] });
    expect(run((p) => matchText('c', '?BC', p))).toEqual({ sql: 'c LIKE $1', params: ['_BC'] });
  });

  it('upper-cases column and value when case-insensitive', () => {
    expect(run((p) => matchText('c', 'smith', p, true))).toEqual({ sql: 'upper(c) = $1', params: ['SMITH'] });
    expect(run((p) => matchText('c', 'müller*', p, true))).toEqual({ sql: 'upper(c) LIKE $1', params: ['MÜLLER%'] });
  });
});

describe('matchUidList (PS3.4 C.2.2.2.2)', () => {
  it('matches one UID with equality', () => {
    expect(run((p) => matchUidList('u', '1.2.840.113619.2.1', p))).toEqual({ sql: 'u = $1', params: ['1.2.840.113619.2.1'] });
  });

  it('matches a list with ANY over one array parameter, values trimmed', () => {
    expect(run((p) => matchUidList('u', '1.2.3\\ 4.5.6 \\7.8', p))).toEqual({ sql: 'u = ANY($1::text[])', params: [['1.2.3', '4.5.6', '7.8']] });
  });

  it('is universal for an empty value or empty list entries', () => {
    expect(run((p) => matchUidList('u', '', p)).sql).toBeUndefined();
    expect(run((p) => matchUidList('u', '\\', p)).sql).toBeUndefined();
  });

  it('drops empty entries of a list', () => {
    expect(run((p) => matchUidList('u', '1.2\\\\', p))).toEqual({ sql: 'u = $1', params: ['1.2'] });
  });

  it('refuses what is not a UID: wildcards, letters, more than 64 characters', () => {
    for (const bad of ['1.2.*', '1.2.?', 'abc', '1.2.3\\x', `1.${'2'.repeat(63)}`]) {
      expect(() => matchUidList('u', bad, new SqlParams())).toThrow(QueryValueError);
    }
  });

  it('accepts a UID of exactly 64 characters', () => {
    const uid = `1.${'2'.repeat(62)}`;
    expect(uid).toHaveLength(64);
    expect(run((p) => matchUidList('u', uid, p)).params).toEqual([uid]);
  });
});

describe('matchValueList', () => {
  it('matches one value like matchText, wildcards included', () => {
    expect(run((p) => matchValueList('m', 'CT', p))).toEqual({ sql: 'm = $1', params: ['CT'] });
    expect(run((p) => matchValueList('m', 'C*', p))).toEqual({ sql: 'm LIKE $1', params: ['C%'] });
  });

  it('matches several values with ANY', () => {
    expect(run((p) => matchValueList('m', 'CT\\MR \\ US', p))).toEqual({ sql: 'm = ANY($1::text[])', params: [['CT', 'MR', 'US']] });
  });

  it('is universal for an empty list', () => {
    expect(run((p) => matchValueList('m', ' \\ ', p)).sql).toBeUndefined();
  });
});

describe('matchTemporal (PS3.4 C.2.2.2.5)', () => {
  describe('DA', () => {
    it('single value: equality', () => {
      expect(run((p) => matchTemporal('d', 'DA', '20150131', p))).toEqual({ sql: 'd = $1', params: ['20150131'] });
    });

    it('closed range', () => {
      expect(run((p) => matchTemporal('d', 'DA', '20150101-20150131', p))).toEqual({
        sql: '(d >= $1 AND d <= $2)',
        params: ['20150101', '20150131'],
      });
    });

    it('ranges open at either end', () => {
      expect(run((p) => matchTemporal('d', 'DA', '20150101-', p))).toEqual({ sql: 'd >= $1', params: ['20150101'] });
      expect(run((p) => matchTemporal('d', 'DA', '-20150131', p))).toEqual({ sql: 'd <= $1', params: ['20150131'] });
    });

    it('is universal for an empty value or a lone dash', () => {
      for (const v of ['', ' ', '-']) expect(run((p) => matchTemporal('d', 'DA', v, p))).toEqual({ sql: undefined, params: [] });
    });

    it('accepts the legacy form yyyy.mm.dd, alone and in ranges', () => {
      expect(run((p) => matchTemporal('d', 'DA', '2015.01.31', p))).toEqual({ sql: 'd = $1', params: ['20150131'] });
      expect(run((p) => matchTemporal('d', 'DA', '2015.01.01-2015.01.31', p))).toEqual({
        sql: '(d >= $1 AND d <= $2)',
        params: ['20150101', '20150131'],
      });
      expect(run((p) => matchTemporal('d', 'DA', '-2015.01.31', p)).params).toEqual(['20150131']);
    });

    it('trims surrounding spaces', () => {
      expect(run((p) => matchTemporal('d', 'DA', ' 20150131 ', p)).params).toEqual(['20150131']);
    });

    it('refuses values that are not dates', () => {
      for (const bad of ['2015013', '201501311', 'yesterday', '2015/01/31', '20150101-2015', '20150101-20150131-20150201', '*', '2015*']) {
        expect(() => matchTemporal('d', 'DA', bad, new SqlParams())).toThrow(QueryValueError);
      }
    });
  });

  describe('TM', () => {
    it('a full time is matched with equality', () => {
      expect(run((p) => matchTemporal('t', 'TM', '170000', p))).toEqual({ sql: 't = $1', params: ['170000'] });
      expect(run((p) => matchTemporal('t', 'TM', '170000.123', p))).toEqual({ sql: 't = $1', params: ['170000.123'] });
    });

    it('a partial time names the whole hour or minute', () => {
      expect(run((p) => matchTemporal('t', 'TM', '17', p))).toEqual({ sql: '(t >= $1 AND t <= $2)', params: ['17', '175959.999999'] });
      expect(run((p) => matchTemporal('t', 'TM', '1700', p))).toEqual({ sql: '(t >= $1 AND t <= $2)', params: ['1700', '170059.999999'] });
    });

    it('the upper end of a range covers the unit it names', () => {
      expect(run((p) => matchTemporal('t', 'TM', '0800-1700', p))).toEqual({ sql: '(t >= $1 AND t <= $2)', params: ['0800', '170059.999999'] });
      expect(run((p) => matchTemporal('t', 'TM', '-12', p))).toEqual({ sql: 't <= $1', params: ['125959.999999'] });
      expect(run((p) => matchTemporal('t', 'TM', '-120000', p))).toEqual({ sql: 't <= $1', params: ['120000.999999'] });
      expect(run((p) => matchTemporal('t', 'TM', '0800-', p))).toEqual({ sql: 't >= $1', params: ['0800'] });
    });

    it('accepts the legacy form hh:mm[:ss]', () => {
      expect(run((p) => matchTemporal('t', 'TM', '17:00:30', p))).toEqual({ sql: 't = $1', params: ['170030'] });
      expect(run((p) => matchTemporal('t', 'TM', '17:00', p))).toEqual({ sql: '(t >= $1 AND t <= $2)', params: ['1700', '170059.999999'] });
      expect(run((p) => matchTemporal('t', 'TM', '08:00-17:00', p)).params).toEqual(['0800', '170059.999999']);
    });

    it('refuses values that are not times', () => {
      for (const bad of ['1', '170', '17000', '1700000', '170000.1234567', 'noon', '17h00', '1700-17000']) {
        expect(() => matchTemporal('t', 'TM', bad, new SqlParams())).toThrow(QueryValueError);
      }
    });
  });

  describe('DT', () => {
    it('a partial datetime names a span up to its last digit', () => {
      expect(run((p) => matchTemporal('x', 'DT', '2015', p))).toEqual({
        sql: '(x >= $1 AND x <= $2)',
        params: ['2015', `2015${'9'.repeat(17)}`],
      });
      expect(run((p) => matchTemporal('x', 'DT', '20150131', p)).params).toEqual(['20150131', `20150131${'9'.repeat(13)}`]);
    });

    it('a datetime down to the second is matched with equality', () => {
      expect(run((p) => matchTemporal('x', 'DT', '20150131120000', p))).toEqual({ sql: 'x = $1', params: ['20150131120000'] });
      expect(run((p) => matchTemporal('x', 'DT', '20150131120000+0100', p))).toEqual({ sql: 'x = $1', params: ['20150131120000+0100'] });
    });

    it('ranges', () => {
      expect(run((p) => matchTemporal('x', 'DT', '2015-2016', p)).params).toEqual(['2015', `2016${'9'.repeat(17)}`]);
    });

    it('refuses values that are not datetimes', () => {
      for (const bad of ['201', '2015013', 'now']) expect(() => matchTemporal('x', 'DT', bad, new SqlParams())).toThrow(QueryValueError);
    });
  });

  it('QueryValueError names itself and the bad value', () => {
    try {
      matchTemporal('d', 'DA', 'yesterday', new SqlParams());
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(QueryValueError);
      expect((e as Error).name).toBe('QueryValueError');
      expect((e as Error).message).toContain('yesterday');
    }
  });
});
