import { randomUUID } from 'node:crypto';

/** The archive's implementation class UID (PS3.7 D.3.3.2), a UUID-derived UID under 2.25 (PS3.5 B.2). */
export const IMPLEMENTATION_CLASS_UID = '2.25.3159501833345689352379639498881766924';
/** At most 16 characters (SH). */
export const IMPLEMENTATION_VERSION_NAME = 'VNA_0_1';

/** A new UID under 2.25 from a random UUID (PS3.5 B.2). */
export function generateUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`;
}

/** PS3.5 9.1: components of digits without leading zeros, separated by dots, at most 64 characters. */
export function isValidUid(uid: string): boolean {
  return uid.length > 0 && uid.length <= 64 && /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/.test(uid);
}
