import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { JobHandlerRegistry } from '#vna/jobs';
import { FhirDestinationRepository } from './fhir-destination.repository.js';
import { ImagingStudyPublisher } from './imaging-study.publisher.js';
import { FHIR_PUBLISH_TOPIC, type FhirPublishPayload, StudyChangeRepository } from './study-change.repository.js';

const MIN_WAIT_MS = 25;
const MAX_WAIT_MS = 1000;

/**
 * In the processes that run the shared queue: registers the `fhir.publish` handler and sweeps the
 * changed studies, waking when the earliest comes due (at most a second apart, so that new marks
 * are seen), so that a study is published soon after its stability window ends.
 */
@Injectable()
export class FhirPublishScheduler implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('FhirPublish');
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly registry: JobHandlerRegistry,
    private readonly publisher: ImagingStudyPublisher,
    private readonly changes: StudyChangeRepository,
    private readonly destinations: FhirDestinationRepository,
  ) {}

  onModuleInit(): void {
    this.registry.register(FHIR_PUBLISH_TOPIC, async (payload) => void (await this.publisher.publish(payload as FhirPublishPayload)));
  }

  onApplicationBootstrap(): void {
    this.schedule(MIN_WAIT_MS);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), Math.min(MAX_WAIT_MS, Math.max(MIN_WAIT_MS, ms)));
    this.timer.unref?.();
  }

  /** One sweep; returns how many studies went to the outbox. */
  async sweepOnce(): Promise<number> {
    const window = this.config.fhir.studyStableMs;
    return this.changes.sweep(window, await this.destinations.enabledKeys());
  }

  private async tick(): Promise<void> {
    let wait = MAX_WAIT_MS;
    try {
      const handed = await this.sweepOnce();
      wait = handed > 0 ? MIN_WAIT_MS : ((await this.changes.nextDue(this.config.fhir.studyStableMs)) ?? MAX_WAIT_MS);
    } catch (e) {
      this.logger.warn(`sweep of changed studies failed: ${(e as Error).message}`);
    }
    this.schedule(wait);
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
