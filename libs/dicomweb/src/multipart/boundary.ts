import { randomBytes } from 'node:crypto';
import { MultipartError } from './multipart.error.js';

/**
 * RFC 2046 5.1.1: boundary := 0*69<bchars> bcharsnospace, where
 * bchars := bcharsnospace / " " and
 * bcharsnospace := DIGIT / ALPHA / "'" / "(" / ")" / "+" / "_" / "," / "-" / "." / "/" / ":" / "=" / "?"
 */
const RFC_BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

/** Longest boundary the parser accepts; RFC 2046 says 70, some senders exceed it. */
export const MAX_PARSER_BOUNDARY_LENGTH = 200;

/** True when `boundary` is one RFC 2046 5.1.1 allows a sender to use. */
export function isValidBoundary(boundary: string): boolean {
  return RFC_BOUNDARY.test(boundary);
}

/**
 * A fresh boundary: 192 random bits, base64url (every character is both an RFC 2046 bchar and
 * an RFC 9110 token character, so it never needs quoting in Content-Type). The randomness is what
 * makes it safe: RFC 2046 5.1.1 requires that the delimiter never occur inside a body, and
 * the writer streams bodies it cannot scan in advance.
 */
export function createBoundary(): string {
  return randomBytes(24).toString('base64url');
}

/** Writer side: only RFC 2046 boundaries are sent. */
export function assertValidBoundary(boundary: string): void {
  if (!isValidBoundary(boundary)) {
    throw new MultipartError('INVALID_BOUNDARY', 'boundary must be 1-70 RFC 2046 bchars and not end with a space');
  }
}

/**
 * Parser side, deliberately more liberal than RFC 2046 (robustness principle): any printable
 * ASCII up to 200 characters. CR and LF are never allowed, since the delimiter search relies on
 * the boundary containing no CR (RFC 2046 5.1.1 delimiter := CRLF dash-boundary).
 */
export function assertParsableBoundary(boundary: string): void {
  if (boundary.length === 0 || boundary.length > MAX_PARSER_BOUNDARY_LENGTH || !/^[\x20-\x7e]+$/.test(boundary)) {
    throw new MultipartError('INVALID_BOUNDARY', `boundary must be 1-${MAX_PARSER_BOUNDARY_LENGTH} printable ASCII characters`);
  }
}
