import { Module } from '@nestjs/common';
import { ForegroundActivity } from './foreground-activity.js';
import { IngestHookRegistry } from './ingest/ingest-hooks.js';
import { IngestNormalizerRegistry } from './ingest/ingest-normalizer.js';
import { IngestService } from './ingest/ingest.service.js';
import { InstanceIndexRepository } from './ingest/instance-index.repository.js';
import { QueryService } from './query/query.service.js';
import { EgressContributorRegistry } from './retrieve/egress-contributors.js';
import { EgressOverlay } from './retrieve/egress-overlay.js';
import { ObjectReaderService } from './retrieve/object-reader.service.js';
import { RetrieveHookRegistry } from './retrieve/retrieve-hooks.js';
import { RetrieveService } from './retrieve/retrieve.service.js';

/**
 * The archive engine: ingest, query, retrieve. Needs PersistenceModule, BlobModule, JobsModule and
 * ObservabilityModule in the application (they are global).
 */
@Module({
  providers: [IngestService, ForegroundActivity, IngestHookRegistry, IngestNormalizerRegistry, EgressContributorRegistry, InstanceIndexRepository, QueryService, EgressOverlay, ObjectReaderService, RetrieveService, RetrieveHookRegistry],
  exports: [IngestService, ForegroundActivity, IngestHookRegistry, IngestNormalizerRegistry, EgressContributorRegistry, QueryService, RetrieveService, EgressOverlay, RetrieveHookRegistry],
})
export class ArchiveModule {}
