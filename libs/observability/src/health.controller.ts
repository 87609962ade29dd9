import type { ServerResponse } from 'node:http';
import { Controller, Get, Inject, type OnApplicationShutdown, Res } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ApiTags } from '@nestjs/swagger';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { Public } from '#vna/auth';
import { BlobStore } from '#vna/blob';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { HealthDetails } from './health-details.js';
import { MetricsService } from './metrics.service.js';

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Liveness (the process runs), readiness (its dependencies answer), and Prometheus metrics. */
@ApiTags('Operations')
@Controller()
export class HealthController implements OnApplicationShutdown {
  private readonly redis: Redis;

  constructor(
    @Inject(VNA_CONFIG) config: VnaConfig,
    @InjectDataSource() private readonly db: DataSource,
    private readonly blob: BlobStore,
    private readonly metrics: MetricsService,
    private readonly details: HealthDetails,
  ) {
    this.redis = new Redis(config.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectionName: 'vna-health' });
    this.redis.on('error', () => undefined);
  }

  @Public()
  @Get('health/live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Public()
  @Get('health/ready')
  async ready(@Res() res: ServerResponse): Promise<void> {
    const check = async (name: string, probe: () => Promise<unknown>): Promise<[string, { status: string; detail?: string }]> => {
      try {
        await within(2000, probe());
        return [name, { status: 'up' }];
      } catch (e) {
        return [name, { status: 'down', detail: (e as Error).message }];
      }
    };
    const results = await Promise.all([
      check('database', () => this.db.query('SELECT 1')),
      check('redis', async () => {
        if (this.redis.status === 'wait' || this.redis.status === 'end') await this.redis.connect().catch(() => undefined);
        return this.redis.ping();
      }),
      check('blob', () => this.blob.ping()),
    ]);
    // Degraded features (e.g. legal holds mirrored as tags only) are shown, without failing readiness.
    const checks = { ...(await this.details.all()), ...Object.fromEntries(results) };
    const ok = results.every(([, r]) => r.status === 'up');
    const body = JSON.stringify({ status: ok ? 'ready' : 'not ready', checks });
    res.writeHead(ok ? 200 : 503, { 'Content-Type': 'application/json' });
    res.end(body);
  }

  @Public()
  @Get('metrics')
  async scrape(@Res() res: ServerResponse): Promise<void> {
    const text = await this.metrics.text();
    res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType });
    res.end(text);
  }

  async onApplicationShutdown(): Promise<void> {
    this.redis.disconnect();
  }
}
