import 'reflect-metadata';
import { configOrExit } from '#vna/http';
import { migrate } from '#vna/persistence';

/** Applies pending schema migrations (npm start runs it; in Kubernetes, the migration Job). */
const config = configOrExit();
const applied = await migrate({ url: config.database.url, poolSize: 2 });
process.stdout.write(applied.length ? `applied migrations: ${applied.join(', ')}\n` : 'schema is up to date\n');
