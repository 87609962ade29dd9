import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiKeySpec, Role, VnaConfig } from '#vna/config';

export interface Principal {
  readonly name: string;
  readonly role: Role;
}

const RANK: Record<Role, number> = { reader: 1, writer: 2, admin: 3 };

export function roleAllows(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}

const LOCAL_KEY_FILE = 'api-key';

/**
 * The local profile's key: with no VNA_API_KEYS, `npm start` makes one admin key under the data
 * directory (mode 0600) and reuses it on later starts. Returns it and whether it was just created.
 */
export function ensureLocalApiKey(config: VnaConfig): { key: ApiKeySpec; created: boolean; path: string } {
  const path = join(config.dataDir, LOCAL_KEY_FILE);
  if (existsSync(path)) {
    const secret = readFileSync(path, 'utf8').trim();
    if (secret.length >= 16) return { key: { name: 'local-admin', role: 'admin', secret }, created: false, path };
  }
  mkdirSync(config.dataDir, { recursive: true });
  const secret = randomBytes(24).toString('base64url');
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  return { key: { name: 'local-admin', role: 'admin', secret }, created: true, path };
}

/** Looks up bearer secrets in constant time (hashes compared, so lengths do not leak either). */
export class ApiKeyStore {
  private readonly keys: { digest: Buffer; principal: Principal }[];

  constructor(keys: readonly ApiKeySpec[]) {
    this.keys = keys.map((k) => ({ digest: sha256(k.secret), principal: { name: k.name, role: k.role } }));
  }

  get size(): number {
    return this.keys.length;
  }

  authenticate(secret: string): Principal | undefined {
    const digest = sha256(secret);
    let found: Principal | undefined;
    for (const key of this.keys) if (timingSafeEqual(key.digest, digest)) found = key.principal;
    return found;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
