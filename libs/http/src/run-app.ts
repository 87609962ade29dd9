import { ConsoleLogger, type DynamicModule, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, loadConfig, type VnaConfig } from '#vna/config';
import cluster from 'node:cluster';
import { setFlagsFromString } from 'node:v8';
import { ensureLocalApiKey } from '#vna/auth';
import { runPrimary } from './cluster.js';
import { listenHttp } from './http-app.js';

/**
 * The local profile's admin key (no VNA_API_KEYS): made once, before any worker starts, and printed
 * for the person who ran `npm start` (it is theirs, on their machine).
 */
function announceLocalKey(config: VnaConfig): void {
  if (config.apiKeys.length > 0 || config.profile === 'production') return;
  const { key, created, path } = ensureLocalApiKey(config);
  process.stdout.write(
    `\n${created ? 'Created' : 'Using'} the admin API key in ${path}: ${key.secret}\n  e.g. curl -H 'Authorization: Bearer ${key.secret}' http://${config.bind}:${config.http.port}/dicomweb/studies\n\n`,
  );
}

const LEVELS: Record<VnaConfig['logLevel'], LogLevel[]> = {
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  info: ['fatal', 'error', 'warn', 'log'],
  warn: ['fatal', 'error', 'warn'],
  error: ['fatal', 'error'],
};

/** Reads the configuration or stops the process, naming every bad variable (exit code 78, EX_CONFIG). */
export function configOrExit(): VnaConfig {
  try {
    return loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(78);
    }
    throw e;
  }
}

/**
 * The archive streams hundreds of MB/s of Buffers through each process (received objects, WADO-RS
 * and C-MOVE bodies), and V8's dynamic heap growth kept the old generation's limit about 11 MB over
 * its ~80 MB of live objects: a full mark-compact every ~170 ms while data flowed (160 of them in
 * one ingest and retrieve of the benchmark's study). A fixed growth factor of 2 (the old generation
 * may double its live size before the next full collection) cuts that to a few, for some tens of MB
 * more heap: WADO-RS of the 531 MB study from the spool went from 2.9 s to 1.4 s and ingest used
 * ~10% less CPU (bench, interleaved A/B). The flag is read at every collection, so setting it at
 * start-up, before the app is built, takes effect for the process's whole life.
 */
export function tuneHeapGrowth(): void {
  setFlagsFromString('--heap-growing-percent=100');
}

/**
 * Starts an app: configuration first (fail fast), JSON logs, the module built for that
 * configuration, HTTP on VNA_BIND:VNA_HTTP_PORT (every app serves /health and /metrics).
 */
export async function runApp(name: string, build: (config: VnaConfig) => DynamicModule, options: { docs: boolean; cluster?: boolean }): Promise<void> {
  tuneHeapGrowth();
  const config = configOrExit();
  const logger = new ConsoleLogger(name, { json: true, logLevels: LEVELS[config.logLevel] });
  if (cluster.isPrimary) announceLocalKey(config);
  if (options.cluster && config.workers > 1 && cluster.isPrimary) {
    runPrimary(config.workers, logger);
    return;
  }
  // Body parsers are registered by listenHttp, so that they can leave DICOMweb streams alone.
  const app = await NestFactory.create(build(config), { logger, abortOnError: false, bodyParser: false });
  await listenHttp(app, config, options);
  logger.log(`${name} ready: HTTP on ${config.bind}:${config.http.port} (profile ${config.profile}, node ${config.nodeId})`);
}
