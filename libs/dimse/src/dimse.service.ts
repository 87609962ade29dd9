import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  IngestError,
  IngestService,
  type InstanceRow,
  ObjectUnavailableError,
  type QueryLevel,
  QueryService,
  QueryValueError,
  RetrieveService,
  type SpoolWriter,
} from '#vna/archive';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { Tag } from '#vna/dicom';
import { WorklistQueryError, WorklistService } from '#vna/identity';
import { SopClass } from './association-policy.js';
import { DicomNodeService } from './dicom-node.service.js';
import { cStoreFailureStatus, DimseStatus, errorComment } from './dimse-status.js';
import { encodeResponseIdentifier, type Identifier, IdentifierError, readIdentifier } from './identifier.js';
import { emptyTally, MaterializedObjects, storeToDestination, type SubOperationTally } from './store-scu.js';
import { encodeWorklistResponse, readWorklistQuery, type WorklistQuery } from './worklist-find.js';

export interface DimseReply {
  readonly status: number;
  readonly comment?: string;
  /** Response identifier bytes (C-FIND matches; C-MOVE/C-GET failed SOP Instance UID list). */
  readonly identifier?: Buffer;
}

const LEVELS: Record<string, QueryLevel> = { PATIENT: 'PATIENT', STUDY: 'STUDY', SERIES: 'SERIES', IMAGE: 'IMAGE' };

/**
 * What the archive does for each DIMSE request (PS3.4 B, C). The SCP class only translates
 * between dcmjs-dimse objects and these calls.
 */
@Injectable()
export class DimseService {
  private readonly logger = new Logger('DIMSE');

  constructor(
    @Inject(VNA_CONFIG) readonly config: VnaConfig,
    readonly ingest: IngestService,
    private readonly query: QueryService,
    private readonly retrieve: RetrieveService,
    readonly nodes: DicomNodeService,
    private readonly worklist: WorklistService,
  ) {}

  /** C-STORE: answered only after the object is durable and indexed (acknowledged means durable). */
  async store(writer: SpoolWriter, callingAet: string): Promise<DimseReply> {
    try {
      await this.ingest.commit(writer, { kind: 'dimse', aet: callingAet });
      return { status: DimseStatus.Success };
    } catch (e) {
      if (e instanceof IngestError) return { status: cStoreFailureStatus(e.code), comment: errorComment(e.message) };
      this.logger.error(`C-STORE from ${callingAet}: ${(e as Error).message}`);
      return { status: DimseStatus.OutOfResources, comment: 'internal error' };
    }
  }

  private model(sopClassUid: string): 'patient' | 'study' {
    return sopClassUid === SopClass.PatientRootFind || sopClassUid === SopClass.PatientRootMove || sopClassUid === SopClass.PatientRootGet ? 'patient' : 'study';
  }

  /** C-FIND in the Patient Root and Study Root models (PS3.4 C.4.1, C.6.1, C.6.2), and the Modality Worklist (K.6). */
  async find(sopClassUid: string, identifierBytes: Buffer | undefined, transferSyntaxUid: string): Promise<DimseReply[]> {
    if (sopClassUid === SopClass.ModalityWorklistFind) return this.worklistFind(identifierBytes, transferSyntaxUid);
    let identifier: Identifier;
    try {
      if (!identifierBytes) throw new IdentifierError('no identifier');
      identifier = readIdentifier(identifierBytes, transferSyntaxUid);
    } catch (e) {
      return [{ status: DimseStatus.DataSetDoesNotMatchSopClass, comment: errorComment((e as Error).message) }];
    }
    const level = LEVELS[identifier.level.toUpperCase()];
    const model = this.model(sopClassUid);
    if (!level || (model === 'study' && level === 'PATIENT')) {
      return [{ status: DimseStatus.DataSetDoesNotMatchSopClass, comment: errorComment(`Query/Retrieve Level "${identifier.level}" is not valid here`) }];
    }
    try {
      const result = await this.query.search({
        level,
        keys: identifier.keys,
        includeFields: [],
        includeAll: false,
        limit: this.config.qido.maxResults,
        offset: 0,
        relational: false,
      });
      const replies: DimseReply[] = result.matches.map((match) => ({
        status: DimseStatus.Pending,
        identifier: encodeResponseIdentifier(match, identifier, level, transferSyntaxUid),
      }));
      replies.push({ status: DimseStatus.Success });
      return replies;
    } catch (e) {
      if (e instanceof QueryValueError) return [{ status: DimseStatus.DataSetDoesNotMatchSopClass, comment: errorComment(e.message) }];
      this.logger.error(`C-FIND: ${(e as Error).message}`);
      return [{ status: DimseStatus.UnableToProcess, comment: 'query failed' }];
    }
  }

  /** Modality Worklist C-FIND (PS3.4 K.6.1): the open scheduled procedure steps that match, from the orders. */
  private async worklistFind(identifierBytes: Buffer | undefined, transferSyntaxUid: string): Promise<DimseReply[]> {
    let query: WorklistQuery;
    try {
      if (!identifierBytes) throw new IdentifierError('no identifier');
      query = readWorklistQuery(identifierBytes, transferSyntaxUid);
    } catch (e) {
      return [{ status: DimseStatus.DataSetDoesNotMatchSopClass, comment: errorComment((e as Error).message) }];
    }
    try {
      const result = await this.worklist.find(query.keys, this.config.qido.maxResults);
      const replies: DimseReply[] = result.matches.map((match) => ({ status: DimseStatus.Pending, identifier: encodeWorklistResponse(match, query, transferSyntaxUid) }));
      replies.push({ status: DimseStatus.Success });
      return replies;
    } catch (e) {
      if (e instanceof WorklistQueryError) return [{ status: DimseStatus.DataSetDoesNotMatchSopClass, comment: errorComment(e.message) }];
      this.logger.error(`worklist C-FIND: ${(e as Error).message}`);
      return [{ status: DimseStatus.UnableToProcess, comment: 'worklist query failed' }];
    }
  }

  /** The instances a C-MOVE/C-GET identifier names (unique keys at or above its level, PS3.4 C.4.2.1.4). */
  async resolveRetrieve(identifierBytes: Buffer | undefined, transferSyntaxUid: string): Promise<InstanceRow[] | DimseReply> {
    let identifier: Identifier;
    try {
      if (!identifierBytes) throw new IdentifierError('no identifier');
      identifier = readIdentifier(identifierBytes, transferSyntaxUid);
    } catch (e) {
      return { status: DimseStatus.DataSetDoesNotMatchSopClass, comment: errorComment((e as Error).message) };
    }
    const list = (tag: number): string[] => (identifier.keys.get(tag) ?? '').split('\\').map((v) => v.trim()).filter(Boolean);
    const level = identifier.level.toUpperCase();
    try {
      if (level === 'IMAGE') return await this.retrieve.instancesByUid(list(Tag.SOPInstanceUID));
      if (level === 'PATIENT') {
        const pid = identifier.keys.get(Tag.PatientID);
        if (!pid) return { status: DimseStatus.DataSetDoesNotMatchSopClass, comment: 'PatientID is required at PATIENT level' };
        const studies = await this.query.search({ level: 'STUDY', keys: new Map([[Tag.PatientID, pid]]), includeFields: [], includeAll: false, limit: 100_000, offset: 0, relational: false });
        const uids = studies.matches.map((m) => String(m['0020000D']?.Value?.[0] ?? '')).filter(Boolean);
        return (await Promise.all(uids.map((studyUid) => this.retrieve.instances({ studyUid })))).flat();
      }
      const studyUids = list(Tag.StudyInstanceUID);
      if (studyUids.length === 0) return { status: DimseStatus.DataSetDoesNotMatchSopClass, comment: 'StudyInstanceUID is required' };
      if (level === 'STUDY') return (await Promise.all(studyUids.map((studyUid) => this.retrieve.instances({ studyUid })))).flat();
      if (level === 'SERIES') {
        const seriesUids = list(Tag.SeriesInstanceUID);
        const sets = await Promise.all(studyUids.flatMap((studyUid) => seriesUids.map((seriesUid) => this.retrieve.instances({ studyUid, seriesUid }))));
        return sets.flat();
      }
      return { status: DimseStatus.DataSetDoesNotMatchSopClass, comment: errorComment(`Query/Retrieve Level "${identifier.level}" is not valid`) };
    } catch (e) {
      this.logger.error(`retrieve lookup: ${(e as Error).message}`);
      return { status: DimseStatus.OutOfResourcesMatches, comment: 'lookup failed' };
    }
  }

  /** C-MOVE (PS3.4 C.4.2): sub-operations to a known AE over a new association. */
  async move(destinationAet: string, instances: readonly InstanceRow[], progress: (tally: SubOperationTally, remaining: number) => void): Promise<DimseReply> {
    const node = await this.nodes.find(destinationAet);
    if (!node) return { status: DimseStatus.MoveDestinationUnknown, comment: errorComment(`move destination ${destinationAet} is not a known node`) };
    const tally = emptyTally();
    if (instances.length === 0) return { status: DimseStatus.Success };
    const objects = await MaterializedObjects.create(this.scratchDir(), instances, this.retrieve, destinationAet, (i, e) => failedSubOperation(tally, i, e));
    try {
      const outcome = await storeToDestination(objects, instances, node, this.config.dicom.aet, this.config.dicom, tally, () =>
        progress(tally, instances.length - tally.completed - tally.failed - tally.warning),
      );
      if (outcome !== 'done') {
        this.logger.warn(`C-MOVE to ${destinationAet}: association ${outcome}`);
        return this.subOperationsReply(tally, `destination ${destinationAet}: association ${outcome}`);
      }
      return this.subOperationsReply(tally);
    } finally {
      await objects.dispose();
    }
  }

  subOperationsReply(tally: SubOperationTally, explanation?: string): DimseReply {
    const comment = explanation ?? tally.note;
    if (tally.failed === 0 && tally.warning === 0) return { status: DimseStatus.Success };
    if (tally.completed === 0 && tally.warning === 0) {
      return { status: DimseStatus.OutOfResourcesSubOperations, comment: errorComment(comment ?? 'no sub-operation succeeded') };
    }
    return { status: DimseStatus.SubOperationsCompleteWithFailures, comment: comment ? errorComment(comment) : undefined };
  }

  async materialize(instances: readonly InstanceRow[], destination: string, tally: SubOperationTally): Promise<MaterializedObjects> {
    return MaterializedObjects.create(this.scratchDir(), instances, this.retrieve, destination, (i, e) => failedSubOperation(tally, i, e));
  }

  private scratchDir(): string {
    return join(this.config.dataDir, 'tmp');
  }
}

/**
 * A sub-operation that could not read its object counts as failed (PS3.4 C.4.2.1.3); an object
 * rehydrating from the Archive tier says so in the final response's Error Comment (0000,0902).
 */
function failedSubOperation(tally: SubOperationTally, instance: InstanceRow, error: unknown): void {
  tally.failed++;
  tally.failedUids.push(instance.sopInstanceUid);
  if (error instanceof ObjectUnavailableError && error.reason === 'archived') tally.note = error.message;
}
