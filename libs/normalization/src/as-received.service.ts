import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { type RetrieveScope, RetrieveService } from '#vna/archive';
import { readAhead, writeMultipart } from '#vna/dicomweb';
import { NormalizationError } from './normalization.errors.js';

/** Objects opened ahead of the one being sent (as WADO-RS does). */
const READ_AHEAD = 4;

/**
 * Retrieve "as received" (HIM and forensic use): the stored bytes exactly as the archive received
 * them, without the egress overlay (no registry values, corrections or coercion), as a WADO-RS
 * style multipart/related response (PS3.18 8.6). Every such retrieve is recorded (who, what).
 */
@Injectable()
export class AsReceivedService {
  private readonly logger = new Logger('AsReceived');

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly retrieve: RetrieveService,
  ) {}

  async send(res: ServerResponse, scope: RetrieveScope, actor: string): Promise<void> {
    const instances = await this.retrieve.instances(scope);
    if (instances.length === 0) throw new NormalizationError('not-found', 'INSTANCE_NOT_FOUND', 'no such study, series or instance');
    // Opened before the headers go out, so "not available" can still be a 503.
    const first = await this.retrieve.openAsReceived(instances[0]!);
    await this.db.query(
      `INSERT INTO archive_event (kind, actor, study_uid, sop_instance_uid, detail) VALUES ('retrieve.as-received', $1, $2, $3, $4::jsonb)`,
      [actor, scope.studyUid, scope.sopInstanceUid ?? null, JSON.stringify({ seriesUid: scope.seriesUid ?? null, instances: instances.length })],
    );
    const retrieve = this.retrieve;
    async function* parts() {
      for await (const { item: instance, body } of readAhead(instances, (i) => retrieve.openAsReceived(i), READ_AHEAD, first)) {
        yield { headers: { 'Content-Type': `application/dicom; transfer-syntax=${instance.transferSyntaxUid}` }, body };
      }
    }
    const writer = writeMultipart(parts());
    res.writeHead(200, { 'Content-Type': writer.contentType('application/dicom') });
    try {
      await pipeline(writer.stream, res);
    } catch (e) {
      this.logger.warn(`as-received retrieve aborted: ${(e as Error).message}`);
      res.destroy(e as Error);
    }
  }
}
