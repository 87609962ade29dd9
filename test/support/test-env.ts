import { createServer } from 'node:net';

/**
 * What the test run shares, set by the global setup (test/support/global-setup.ts) for every worker:
 * the PostgreSQL server (a template database with the schema), Redis, and one Azurite.
 */
export interface TestEnv {
  /** A URL on the test server with the right to create databases (VNA_TEST_DATABASE_URL). */
  readonly adminUrl: string;
  /** The database with the migrated schema that test databases are cloned from. */
  readonly templateDatabase: string;
  readonly redisUrl: string;
  readonly blobConnectionString: string;
  readonly runId: string;
}

export function testEnv(): TestEnv {
  const raw = process.env['VNA_TEST_ENV'];
  if (!raw) throw new Error('VNA_TEST_ENV is not set: run the tests through `npm test` (jest globalSetup prepares it)');
  return JSON.parse(raw) as TestEnv;
}

export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** A free TCP port on loopback (the OS picks; tests never use fixed ports). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export const AZURITE_ACCOUNT = 'devstoreaccount1';
/** Azurite's well-known development key (public, documented by Microsoft; not a secret). */
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function azuriteConnectionString(port: number): string {
  return `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT};`;
}
