// Service probes for the provisioning scripts, using the project's own client libraries (pg,
// ioredis) so that no psql or redis-cli is needed on the machine. Not part of the application.
//
//   node probe.mjs pg            -> "user=.. super=.. createdb=.. owner=.. trgm=.. version=.."
//   node probe.mjs pg-createdb   -> creates the database named in the URL (via the `postgres`
//                                   database on the same server, same credentials) if missing
//   node probe.mjs pg-url DB     -> the URL with its database replaced by DB
//   node probe.mjs redis         -> "redis_version=.."
//   node probe.mjs http-server   -> the Server header of a GET to the URL
//
// The URL comes from the environment variable VNA_PROBE_URL, not the command line, so that a
// password in it does not show in the process list.
//
// Exit codes: 0 ok; 2 nothing answers; 3 it answers but refuses our credentials;
// 4 the database does not exist; 1 anything else. Errors go to stderr in one line.

const [, , command, ...args] = process.argv;
const url = process.env.VNA_PROBE_URL ?? '';
if (!url) fail(1, 'probe.mjs: VNA_PROBE_URL is not set');
const TIMEOUT_MS = 5000;

function fail(code, message) {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function redact(url) {
  return url.replace(/(:\/\/[^:/@]*):[^@/]*@/, '$1:***@');
}

function pgErrorCode(err) {
  const code = err?.code ?? '';
  if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN'].includes(code)) return 2;
  if (/timeout/i.test(String(err?.message))) return 2;
  if (code.startsWith('28')) return 3; // invalid_authorization_specification, invalid_password
  if (/password must be a string|password authentication/i.test(String(err?.message))) return 3;
  if (code === '3D000') return 4; // invalid_catalog_name: database does not exist
  return 1;
}

function withDatabase(url, db) {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(db)}`;
  return u.href;
}

async function pgClient(url) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: TIMEOUT_MS });
  await client.connect();
  return client;
}

async function pgProbe(url) {
  let client;
  try {
    client = await pgClient(url);
    const { rows } = await client.query(`
      SELECT current_user AS "user",
             r.rolsuper AS super,
             r.rolcreatedb AS createdb,
             (SELECT datdba = r.oid FROM pg_database WHERE datname = current_database()) AS owner,
             EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') AS trgm,
             current_setting('server_version') AS version
        FROM pg_roles r WHERE r.rolname = current_user`);
    const row = rows[0];
    console.log(
      `user=${row.user} super=${row.super} createdb=${row.super || row.createdb} owner=${row.super || row.owner} trgm=${row.trgm} version=${row.version}`,
    );
  } catch (err) {
    fail(pgErrorCode(err), `${redact(url)}: ${err.message || err.code || err}`);
  } finally {
    await client?.end().catch(() => {});
  }
}

async function pgCreateDb(url) {
  const db = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(db)) fail(1, `refusing to create database with unusual name '${db}'`);
  const admin = withDatabase(url, 'postgres');
  let client;
  try {
    client = await pgClient(admin);
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE "${db}"`);
      console.log(`created database ${db}`);
    } else {
      console.log(`database ${db} exists`);
    }
  } catch (err) {
    fail(pgErrorCode(err), `${redact(admin)}: cannot create database ${db}: ${err.message || err.code}`);
  } finally {
    await client?.end().catch(() => {});
  }
}

async function redisProbe(url) {
  const mod = await import('ioredis');
  const Redis = mod.Redis ?? mod.default;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    retryStrategy: () => null,
  });
  let lastError;
  redis.on('error', (err) => {
    lastError = err; // reported below, with the rejected promise's own error
  });
  try {
    await redis.connect();
    await redis.ping();
    const info = await redis.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    console.log(`redis_version=${version}`);
  } catch (err) {
    const msg = [lastError?.message, err?.message ?? String(err)].filter((m, i, all) => m && all.indexOf(m) === i).join('; ');
    const code = /NOAUTH|WRONGPASS|invalid password|invalid username/i.test(msg) ? 3 : /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|timeout|closed/i.test(msg) ? 2 : 1;
    fail(code, `${redact(url)}: ${msg}`);
  } finally {
    redis.disconnect();
  }
}

async function httpServer(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    console.log(res.headers.get('server') ?? '');
  } catch (err) {
    fail(2, `${url}: ${err.cause?.code ?? err.message}`);
  }
}

switch (command) {
  case 'pg':
    await pgProbe(url);
    break;
  case 'pg-createdb':
    await pgCreateDb(url);
    break;
  case 'pg-url':
    console.log(withDatabase(url, args[0] ?? 'postgres'));
    break;
  case 'redis':
    await redisProbe(url);
    break;
  case 'http-server':
    await httpServer(url);
    break;
  default:
    fail(1, 'usage: VNA_PROBE_URL=URL node probe.mjs pg|pg-createdb|pg-url DB|redis|http-server');
}
