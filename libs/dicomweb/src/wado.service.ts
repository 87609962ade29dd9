import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  FramesNotAvailableError,
  type InstanceRow,
  ObjectUnavailableError,
  RetrieveRequestError,
  type RetrieveScope,
  RetrieveService,
} from '#vna/archive';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { lookupTransferSyntax, parseTagHex, TS } from '#vna/dicom';
import { dicomwebBase } from './dicomweb-base.js';
import { DicomwebError } from './dicomweb.errors.js';
import { type MediaRange, parseAccept, readAhead, writeMultipart } from './multipart/index.js';

/** Media types of compressed frames (PS3.18 Table 8.7.3-2), by transfer syntax. */
/** Objects of a multipart retrieve opened ahead of the one being sent. */
const READ_AHEAD = 4;

const FRAME_MEDIA_TYPE: Record<string, string> = {
  '1.2.840.10008.1.2.4.50': 'image/jpeg',
  '1.2.840.10008.1.2.4.51': 'image/jpeg',
  '1.2.840.10008.1.2.4.57': 'image/jpeg',
  '1.2.840.10008.1.2.4.70': 'image/jpeg',
  '1.2.840.10008.1.2.4.80': 'image/jls',
  '1.2.840.10008.1.2.4.81': 'image/jls',
  '1.2.840.10008.1.2.4.90': 'image/jp2',
  '1.2.840.10008.1.2.4.91': 'image/jp2',
  '1.2.840.10008.1.2.5': 'image/dicom-rle',
};

function accepts(ranges: MediaRange[], essence: string, multipartType?: string): boolean {
  if (ranges.length === 0) return true;
  return ranges.some((r) => {
    if (r.q === 0) return false;
    if (r.essence === '*/*') return true;
    if (multipartType) {
      if (r.essence === 'multipart/related' || r.essence === 'multipart/*') {
        const t = r.parameters['type'];
        return !t || t.toLowerCase() === multipartType || t === '*/*';
      }
      return false;
    }
    return r.essence === essence || r.essence === `${essence.split('/')[0]}/*`;
  });
}

/**
 * WADO-RS (PS3.18 10.4): instances as stored (their transfer syntax, egress overlay applied),
 * metadata from the per-series documents, frames and bulk data by byte range of the stored file.
 */
@Injectable()
export class WadoService {
  private readonly logger = new Logger('WADO-RS');

  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly retrieve: RetrieveService,
  ) {}

  async instances(req: IncomingMessage, res: ServerResponse, scope: RetrieveScope): Promise<void> {
    const ranges = parseAccept(req.headers.accept);
    if (!accepts(ranges, 'application/dicom', 'application/dicom')) {
      throw new DicomwebError(406, 'this resource is available as multipart/related; type="application/dicom"');
    }
    const instances = await this.retrieve.instances(scope);
    if (instances.length === 0) throw new DicomwebError(404, 'no such study, series or instance');
    // Objects in the Archive tier: 503 with Retry-After before anything is sent (their rehydration starts).
    await this.retrieve.assertReadable(instances);
    const base = dicomwebBase(this.config, req);
    // The first object is opened before the headers go out, so "not available" can still be a 503.
    const first = await this.retrieve.open(instances[0]!, 'dicomweb');
    const retrieve = this.retrieve;
    async function* parts() {
      for await (const { item: instance, body } of readAhead(instances, (i) => retrieve.open(i, 'dicomweb'), READ_AHEAD, first)) {
        yield {
          headers: {
            'Content-Type': `application/dicom; transfer-syntax=${instance.transferSyntaxUid}`,
            'Content-Location': `${base}/studies/${instance.studyUid}/series/${instance.seriesUid}/instances/${instance.sopInstanceUid}`,
          },
          body,
        };
      }
    }
    const writer = writeMultipart(parts());
    await this.send(res, 200, { 'Content-Type': writer.contentType('application/dicom') }, writer.stream);
  }

  async metadata(req: IncomingMessage, res: ServerResponse, scope: RetrieveScope): Promise<void> {
    const ranges = parseAccept(req.headers.accept);
    if (!accepts(ranges, 'application/dicom+json') && !accepts(ranges, 'application/json')) {
      throw new DicomwebError(406, 'metadata is available as application/dicom+json');
    }
    if (!(await this.retrieve.exists(scope))) throw new DicomwebError(404, 'no such study, series or instance');
    const chunks = this.retrieve.metadata(scope, dicomwebBase(this.config, req));
    const body = Readable.from(
      (async function* () {
        yield '[';
        for await (const chunk of chunks) yield chunk;
        yield ']';
      })(),
    );
    await this.send(res, 200, { 'Content-Type': 'application/dicom+json' }, body);
  }

  async frames(req: IncomingMessage, res: ServerResponse, scope: Required<RetrieveScope>, frameList: string): Promise<void> {
    const numbers = frameList.split(',').map((f) => Number(f.trim()));
    if (numbers.length === 0 || numbers.some((n) => !Number.isInteger(n) || n < 1)) {
      throw new DicomwebError(400, 'frames are a comma-separated list of positive integers');
    }
    const instance = await this.single(scope);
    let frames;
    try {
      frames = await this.retrieve.frames(instance, numbers);
    } catch (e) {
      if (e instanceof RetrieveRequestError) throw new DicomwebError(404, e.message);
      if (e instanceof FramesNotAvailableError) throw new DicomwebError(406, e.message);
      throw e;
    }
    const ts = lookupTransferSyntax(instance.transferSyntaxUid);
    const mediaType = ts?.encapsulated ? (FRAME_MEDIA_TYPE[instance.transferSyntaxUid] ?? 'application/octet-stream') : 'application/octet-stream';
    const ranges = parseAccept(req.headers.accept);
    if (!accepts(ranges, mediaType, mediaType) && !accepts(ranges, mediaType, '*/*')) {
      throw new DicomwebError(406, `frames of this instance are available as multipart/related; type="${mediaType}"`);
    }
    // Native frames leave as Explicit VR Little Endian bytes (PS3.18 8.7.3.3.1; RetrieveService swaps
    // big endian words); compressed ones in the syntax they are stored in.
    const frameSyntax = ts?.encapsulated ? instance.transferSyntaxUid : TS.ExplicitVRLittleEndian;
    const base = dicomwebBase(this.config, req);
    const first = await frames[0]!.open();
    async function* parts() {
      for (let i = 0; i < frames!.length; i++) {
        const frame = frames![i]!;
        yield {
          headers: {
            'Content-Type': `${mediaType}; transfer-syntax=${frameSyntax}`,
            'Content-Location': `${base}/studies/${scope.studyUid}/series/${scope.seriesUid}/instances/${scope.sopInstanceUid}/frames/${frame.number}`,
          },
          body: i === 0 ? first : await frame.open(),
        };
      }
    }
    const writer = writeMultipart(parts());
    await this.send(res, 200, { 'Content-Type': writer.contentType(mediaType, { 'transfer-syntax': frameSyntax }) }, writer.stream);
  }

  async bulk(_req: IncomingMessage, res: ServerResponse, scope: Required<RetrieveScope>, tagText: string): Promise<void> {
    const tag = parseTagHex(tagText);
    if (tag === undefined) throw new DicomwebError(400, `"${tagText}" is not a tag`);
    const instance = await this.single(scope);
    let body: Readable;
    try {
      body = await this.retrieve.bulk(instance, tag);
    } catch (e) {
      if (e instanceof RetrieveRequestError) throw new DicomwebError(404, e.message);
      if (e instanceof FramesNotAvailableError) throw new DicomwebError(406, e.message);
      throw e;
    }
    const writer = writeMultipart([{ headers: { 'Content-Type': 'application/octet-stream' }, body }]);
    await this.send(res, 200, { 'Content-Type': writer.contentType('application/octet-stream') }, writer.stream);
  }

  private async single(scope: Required<RetrieveScope>): Promise<InstanceRow> {
    const [instance] = await this.retrieve.instances(scope);
    if (!instance) throw new DicomwebError(404, 'no such instance');
    await this.retrieve.assertReadable([instance]);
    return instance;
  }

  /**
   * Streams a body. Once the status line is out, a failure can only abort the response (the client
   * sees a truncated transfer, never a complete-looking one).
   */
  private async send(res: ServerResponse, status: number, headers: Record<string, string>, body: Readable): Promise<void> {
    res.writeHead(status, headers);
    try {
      await pipeline(body, res);
    } catch (e) {
      if (e instanceof ObjectUnavailableError || (e as Error).message) {
        this.logger.warn(`retrieve aborted: ${(e as Error).message}`);
      }
      res.destroy(e as Error);
    }
  }
}
