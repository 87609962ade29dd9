import { ArchiveCore1732300000000 } from './1732300000000-archive-core.js';
import { Hl7Messages1732400000000 } from './1732400000000-hl7-messages.js';
import { CurrentIdentity1732400000100 } from './1732400000100-current-identity.js';
import { ReconciliationTasks1732400000200 } from './1732400000200-reconciliation-tasks.js';
import { PatientRegistry1732400000300 } from './1732400000300-patient-registry.js';
import { Orders1732400000400 } from './1732400000400-orders.js';
import { Fhir1732500000000 } from './1732500000000-fhir.js';
import { StudyNewestFirst1732500000100 } from './1732500000100-study-newest-first.js';
import { StorageLifecycle1732600000000 } from './1732600000000-storage-lifecycle.js';
import { DeletionOfRejected1732600000100 } from './1732600000100-deletion-of-rejected.js';
import { LegalHoldMirrored1732600000200 } from './1732600000200-legal-hold-mirrored.js';
import { LifecycleJobRuns1732600000300 } from './1732600000300-lifecycle-job-runs.js';
import { CoercionRules1732700000000 } from './1732700000000-coercion-rules.js';
import { IngestWarnings1732700000100 } from './1732700000100-ingest-warnings.js';
import { DicomNodeCharset1732700000200 } from './1732700000200-dicom-node-charset.js';
import { OtherPatientIdsRetired1732700000300 } from './1732700000300-other-patient-ids-retired.js';
import { CorrectionsIocm1732800000000 } from './1732800000000-corrections-iocm.js';
import { OrderBodyPart1732900000000 } from './1732900000000-order-body-part.js';
import { PrefetchBodyParts1732900000010 } from './1732900000010-prefetch-body-parts.js';
import { OrderNumbers1732900000100 } from './1732900000100-order-numbers.js';
import { PatientNameSearch1732900000200 } from './1732900000200-patient-name-search.js';
import { SpoolBoot1733000000000 } from './1733000000000-spool-boot.js';

/** Every migration, in order. The schema comes from these only (never `synchronize`). */
export const MIGRATIONS = [
  ArchiveCore1732300000000,
  Hl7Messages1732400000000,
  CurrentIdentity1732400000100,
  ReconciliationTasks1732400000200,
  PatientRegistry1732400000300,
  Orders1732400000400,
  Fhir1732500000000,
  StudyNewestFirst1732500000100,
  StorageLifecycle1732600000000,
  DeletionOfRejected1732600000100,
  LegalHoldMirrored1732600000200,
  LifecycleJobRuns1732600000300,
  CoercionRules1732700000000,
  IngestWarnings1732700000100,
  DicomNodeCharset1732700000200,
  OtherPatientIdsRetired1732700000300,
  CorrectionsIocm1732800000000,
  OrderBodyPart1732900000000,
  PrefetchBodyParts1732900000010,
  OrderNumbers1732900000100,
  PatientNameSearch1732900000200,
  SpoolBoot1733000000000,
];
