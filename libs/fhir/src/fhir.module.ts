import { Module } from '@nestjs/common';
import { FhirApiService } from './api/fhir-api.service.js';
import { FhirSearchRepository } from './api/fhir-search.repository.js';
import { FhirController } from './api/fhir.controller.js';
import { StudySnapshotRepository } from './mapping/study-snapshot.repository.js';
import { FhirDestinationRepository } from './publish/fhir-destination.repository.js';
import { FhirDestinationsController } from './publish/fhir-destinations.controller.js';
import { FhirDestinationsService } from './publish/fhir-destinations.service.js';
import { ImagingStudyPublisher } from './publish/imaging-study.publisher.js';
import { FhirPublishScheduler } from './publish/publish-scheduler.js';
import { StudyChangeRepository } from './publish/study-change.repository.js';

/** The FHIR R4 API (/fhir/R4) and the destinations' administration (/api/v1/fhir-destinations): for the app serving HTTP. */
@Module({
  controllers: [FhirController, FhirDestinationsController],
  providers: [FhirApiService, FhirSearchRepository, StudySnapshotRepository, FhirDestinationRepository, FhirDestinationsService],
})
export class FhirApiModule {}

/**
 * Publishing (needs JobsModule): the sweep of changed studies and the `fhir.publish` handler. For
 * the processes that consume the shared queue (worker, vna).
 */
@Module({
  providers: [StudySnapshotRepository, FhirDestinationRepository, StudyChangeRepository, ImagingStudyPublisher, FhirPublishScheduler],
  exports: [ImagingStudyPublisher, FhirPublishScheduler, StudyChangeRepository],
})
export class FhirPublishModule {}
