import pg from 'pg';

/** Stops Azurite and drops the template and any database a crashed test left behind. */
export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __vnaTeardown?: () => Promise<void> }).__vnaTeardown?.();
  const raw = process.env['VNA_TEST_ENV'];
  if (!raw) return;
  const { adminUrl, runId } = JSON.parse(raw) as { adminUrl: string; runId: string };
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`vna_t_${runId}_%`]);
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
