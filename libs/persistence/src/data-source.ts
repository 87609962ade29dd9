import { DataSource, type DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from './migrations/index.js';

export interface DatabaseSettings {
  readonly url: string;
  readonly poolSize: number;
  readonly applicationName?: string;
}

export function dataSourceOptions(settings: DatabaseSettings): DataSourceOptions {
  return {
    type: 'postgres',
    url: settings.url,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migration',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: ['error'],
    // pipeline: a client sends a query without waiting for the answer to the one before (each is
    // still its own Sync, answered in order), which `withTransaction` uses for BEGIN and COMMIT.
    extra: { max: settings.poolSize, application_name: settings.applicationName ?? 'vna', pipeline: true },
  };
}

export function createDataSource(settings: DatabaseSettings): DataSource {
  return new DataSource(dataSourceOptions(settings));
}

/** Applies pending migrations; returns the names applied. */
export async function migrate(settings: DatabaseSettings): Promise<string[]> {
  const ds = createDataSource({ ...settings, poolSize: 2, applicationName: 'vna-migrate' });
  await ds.initialize();
  try {
    const applied = await ds.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await ds.destroy();
  }
}
