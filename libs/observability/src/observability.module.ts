import { Global, Module } from '@nestjs/common';
import { HealthController } from './health.controller.js';
import { HealthDetails } from './health-details.js';
import { MetricsService } from './metrics.service.js';

@Global()
@Module({ providers: [MetricsService, HealthDetails], exports: [MetricsService, HealthDetails] })
export class ObservabilityModule {}

/** /health/live, /health/ready and /metrics: every app serves them. */
@Module({ controllers: [HealthController] })
export class HealthModule {}
