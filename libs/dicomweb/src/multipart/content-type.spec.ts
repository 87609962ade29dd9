import { describe, expect, it } from '@jest/globals';
import { boundaryFromContentType, formatMediaType, parseAccept, parseMediaType } from './content-type.js';
import { MultipartError } from './multipart.error.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof MultipartError) return err.code;
    throw err;
  }
  return undefined;
}

describe('parseMediaType', () => {
  it('parses a STOW-RS multipart/related Content-Type (PS3.18 10.5.1.1)', () => {
    const mt = parseMediaType('multipart/related; type="application/dicom"; boundary=abc');
    expect(mt.type).toBe('multipart');
    expect(mt.subtype).toBe('related');
    expect(mt.essence).toBe('multipart/related');
    expect(mt.parameters).toEqual({ type: 'application/dicom', boundary: 'abc' });
  });

  it('parses a transfer-syntax parameter (PS3.18 8.7.3.5.2)', () => {
    const mt = parseMediaType('application/dicom; transfer-syntax=1.2.840.10008.1.2.1');
    expect(mt.essence).toBe('application/dicom');
    expect(mt.parameters['transfer-syntax']).toBe('1.2.840.10008.1.2.1');
  });

  it('lower-cases type, subtype and parameter names but keeps value case', () => {
    const mt = parseMediaType('Multipart/Related; BOUNDARY=AbC; Type="Application/DICOM"');
    expect(mt.essence).toBe('multipart/related');
    expect(mt.parameters).toEqual({ boundary: 'AbC', type: 'Application/DICOM' });
  });

  it('unescapes quoted-pairs and keeps separators inside quotes', () => {
    const mt = parseMediaType('multipart/related; boundary="a \\"b\\" ;c,d\\\\e"; start="<x@y>"');
    expect(mt.parameters['boundary']).toBe('a "b" ;c,d\\e');
    expect(mt.parameters['start']).toBe('<x@y>');
  });

  it('tolerates stray whitespace, empty parameters and spaces around "="', () => {
    const mt = parseMediaType('  multipart/related ;  ;type = "application/dicom" ;\tboundary=x ; ');
    expect(mt.parameters).toEqual({ type: 'application/dicom', boundary: 'x' });
  });

  it('accepts an unquoted type=application/dicom (a common sender deviation)', () => {
    expect(parseMediaType('multipart/related;type=application/dicom;boundary=b').parameters).toEqual({
      type: 'application/dicom',
      boundary: 'b',
    });
  });

  it('keeps the first of repeated parameters', () => {
    expect(parseMediaType('text/plain; charset=utf-8; charset=latin1').parameters['charset']).toBe('utf-8');
  });

  it('treats parameter names like __proto__ as plain data', () => {
    const mt = parseMediaType('text/plain; __proto__=x; constructor=y');
    expect(mt.parameters['__proto__']).toBe('x');
    expect(mt.parameters['constructor']).toBe('y');
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });

  it.each([
    [''],
    ['multipart'],
    ['multipart/'],
    ['/related'],
    ['multipart /related'],
    ['multipart/related; boundary'],
    ['multipart/related; boundary='],
    ['multipart/related; boundary="unterminated'],
    ['multipart/related; boundary=a b'],
    ['multipart/related boundary=a'],
    ['multipart/related; =a'],
    ['text/plain, text/html'],
  ])('rejects %j with INVALID_MEDIA_TYPE', (value) => {
    expect(codeOf(() => parseMediaType(value))).toBe('INVALID_MEDIA_TYPE');
  });
});

describe('formatMediaType', () => {
  it('quotes values that are not tokens and leaves tokens bare', () => {
    expect(formatMediaType('multipart/related', { type: 'application/dicom', boundary: 'abc-123' })).toBe(
      'multipart/related; type="application/dicom"; boundary=abc-123',
    );
    expect(formatMediaType('application/dicom', { 'transfer-syntax': '1.2.840.10008.1.2.1' })).toBe(
      'application/dicom; transfer-syntax=1.2.840.10008.1.2.1',
    );
    expect(formatMediaType('text/plain', { x: 'say "hi" \\ there', e: '' })).toBe('text/plain; x="say \\"hi\\" \\\\ there"; e=""');
  });

  it('round-trips through parseMediaType', () => {
    const params = { type: 'application/dicom+xml', boundary: "a'()+_,-./:=? z", start: '<1@x>', q: 'x"y\\z' };
    expect(parseMediaType(formatMediaType('multipart/related', params)).parameters).toEqual(params);
  });

  it('refuses CR/LF in values (header injection) and bad names', () => {
    expect(codeOf(() => formatMediaType('text/plain', { a: 'x\r\nSet-Cookie: y' }))).toBe('INVALID_MEDIA_TYPE');
    expect(codeOf(() => formatMediaType('text/plain', { 'a b': 'x' }))).toBe('INVALID_MEDIA_TYPE');
    expect(codeOf(() => formatMediaType('text', {}))).toBe('INVALID_MEDIA_TYPE');
  });
});

describe('boundaryFromContentType', () => {
  it('returns the boundary of a multipart type', () => {
    expect(boundaryFromContentType('multipart/related; type="application/dicom"; boundary="my boundary"')).toBe('my boundary');
    expect(boundaryFromContentType('multipart/related; boundary=Q')).toBe('Q');
  });

  it('maps each failure to its code', () => {
    expect(codeOf(() => boundaryFromContentType(undefined))).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(codeOf(() => boundaryFromContentType(' '))).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(codeOf(() => boundaryFromContentType('application/dicom'))).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(codeOf(() => boundaryFromContentType('multipart/related; type="application/dicom"'))).toBe('MISSING_BOUNDARY');
    expect(codeOf(() => boundaryFromContentType('multipart/related; boundary=""'))).toBe('MISSING_BOUNDARY');
    expect(codeOf(() => boundaryFromContentType('multipart/related; boundary="x'))).toBe('INVALID_MEDIA_TYPE');
    expect(codeOf(() => boundaryFromContentType(`multipart/related; boundary=${'b'.repeat(201)}`))).toBe('INVALID_BOUNDARY');
  });

  it('gives the suggested HTTP status with the error', () => {
    try {
      boundaryFromContentType('application/json');
    } catch (err) {
      expect((err as MultipartError).httpStatus).toBe(415);
    }
    expect.assertions(1);
  });
});

describe('parseAccept', () => {
  const summary = (value: string | undefined): string[] =>
    parseAccept(value).map((r) => [r.essence, ...Object.entries(r.parameters).map(([k, v]) => `${k}=${v}`), `q=${r.q}`].join(';'));

  it('parses the WADO-RS instance request of PS3.18 8.7.3', () => {
    const [range, ...rest] = parseAccept('multipart/related; type="application/dicom"; transfer-syntax=*');
    expect(rest).toEqual([]);
    expect(range).toEqual({
      type: 'multipart',
      subtype: 'related',
      essence: 'multipart/related',
      parameters: { type: 'application/dicom', 'transfer-syntax': '*' },
      q: 1,
    });
  });

  it('parses the metadata type application/dicom+json', () => {
    expect(summary('application/dicom+json')).toEqual(['application/dicom+json;q=1']);
  });

  it('orders by q, keeping header order among equal weights', () => {
    expect(
      summary(
        'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50; q=0.5, ' +
          'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1, ' +
          'multipart/related; type="application/dicom"; transfer-syntax=*; q=0.1, ' +
          'application/dicom+json, */*;q=0',
      ),
    ).toEqual([
      'multipart/related;type=application/dicom;transfer-syntax=1.2.840.10008.1.2.1;q=1',
      'application/dicom+json;q=1',
      'multipart/related;type=application/dicom;transfer-syntax=1.2.840.10008.1.2.4.50;q=0.5',
      'multipart/related;type=application/dicom;transfer-syntax=*;q=0.1',
      '*/*;q=0',
    ]);
  });

  it('treats q as the weight wherever it appears (RFC 9110 12.5.1), case-insensitively', () => {
    expect(summary('multipart/related; Q=0.3; type="application/dicom"')).toEqual(['multipart/related;type=application/dicom;q=0.3']);
  });

  it('parses wildcards and a bare "*"', () => {
    expect(summary('*/*')).toEqual(['*/*;q=1']);
    expect(summary('image/*; q=0.8, application/*')).toEqual(['application/*;q=1', 'image/*;q=0.8']);
    expect(summary('text/html, *; q=.2')).toEqual(['text/html;q=1', '*/*;q=0.2']);
  });

  it('accepts RFC qvalue forms and drops members with invalid weights', () => {
    expect(summary('a/b;q=1.000, c/d;q=0.001, e/f;q=0, g/h;q=1.5, i/j;q=-1, k/l;q=high, m/n;q=')).toEqual([
      'a/b;q=1',
      'c/d;q=0.001',
      'e/f;q=0',
    ]);
  });

  it('keeps commas inside quoted parameter values', () => {
    const ranges = parseAccept('multipart/related; type="application/dicom, odd"; q=0.9, application/json');
    expect(ranges.map((r) => r.essence)).toEqual(['application/json', 'multipart/related']);
    expect(ranges[1]?.parameters['type']).toBe('application/dicom, odd');
  });

  it('skips invalid members but keeps the rest', () => {
    expect(summary('garbage, */json, text/plain;;, , application/dicom+xml; x="unterminated, y/z')).toEqual(['text/plain;q=1']);
    expect(summary('text/plain;a=b c, application/dicom; a="x,y" junk, image/jpeg')).toEqual(['image/jpeg;q=1']);
  });

  it('gives [] for an absent or empty header', () => {
    expect(parseAccept(undefined)).toEqual([]);
    expect(parseAccept('')).toEqual([]);
    expect(parseAccept(' , ,')).toEqual([]);
  });
});
