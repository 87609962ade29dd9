import type { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { QueryResult } from '#vna/archive';
import { Caller, type Principal, RequireRole } from '#vna/auth';
import { QidoService } from './qido.service.js';
import { StowService } from './stow.service.js';
import { WadoService } from './wado.service.js';

type Params = Record<string, string | string[] | undefined>;

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/dicom+json', 'Content-Length': Buffer.byteLength(text).toString(), ...headers });
  res.end(text);
}

const TRUNCATED_WARNING = '299 vna "The number of results exceeded the limit; more results can be requested with offset"';

/**
 * A QIDO-RS answer (PS3.18 10.6.3.1): 200 with the matches (and a Warning when they were cut at
 * the limit), 204 No Content when there are none.
 */
function searchResults(res: ServerResponse, r: QueryResult): void {
  if (r.matches.length === 0) {
    res.writeHead(204);
    res.end();
    return;
  }
  json(res, 200, r.matches, r.truncated ? { Warning: TRUNCATED_WARNING } : {});
}

/** DICOMweb (PS3.18): STOW-RS, QIDO-RS and WADO-RS under /dicomweb. Protocol work is in the services. */
@ApiTags('DICOMweb')
@ApiBearerAuth()
@Controller('dicomweb')
export class DicomwebController {
  constructor(
    private readonly stow: StowService,
    private readonly qido: QidoService,
    private readonly wado: WadoService,
  ) {}

  @Post('studies')
  @RequireRole('writer')
  async storeInstances(@Req() req: IncomingMessage, @Res() res: ServerResponse, @Caller() caller: Principal): Promise<void> {
    const { status, body } = await this.stow.store(req, caller);
    json(res, status, body);
  }

  @Post('studies/:study')
  @RequireRole('writer')
  async storeStudyInstances(@Req() req: IncomingMessage, @Res() res: ServerResponse, @Caller() caller: Principal, @Param('study') study: string): Promise<void> {
    const { status, body } = await this.stow.store(req, caller, study);
    json(res, status, body);
  }

  @Get('studies')
  async searchStudies(@Req() req: IncomingMessage, @Res() res: ServerResponse, @Query() q: Params): Promise<void> {
    const r = await this.qido.search(req, { level: 'STUDY' }, q);
    searchResults(res, r);
  }

  @Get('series')
  async searchSeries(@Req() req: IncomingMessage, @Res() res: ServerResponse, @Query() q: Params): Promise<void> {
    const r = await this.qido.search(req, { level: 'SERIES' }, q);
    searchResults(res, r);
  }

  @Get('instances')
  async searchInstances(@Req() req: IncomingMessage, @Res() res: ServerResponse, @Query() q: Params): Promise<void> {
    const r = await this.qido.search(req, { level: 'IMAGE' }, q);
    searchResults(res, r);
  }

  @Get('studies/:study/series')
  async searchStudySeries(@Req() req: IncomingMessage, @Res() res: ServerResponse, @Query() q: Params, @Param('study') study: string): Promise<void> {
    const r = await this.qido.search(req, { level: 'SERIES', studyUid: study }, q);
    searchResults(res, r);
  }

  @Get('studies/:study/instances')
  async searchStudyInstances(@Req() req: IncomingMessage, @Res() res: ServerResponse, @Query() q: Params, @Param('study') study: string): Promise<void> {
    const r = await this.qido.search(req, { level: 'IMAGE', studyUid: study }, q);
    searchResults(res, r);
  }

  @Get('studies/:study/series/:series/instances')
  async searchSeriesInstances(
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
    @Query() q: Params,
    @Param('study') study: string,
    @Param('series') series: string,
  ): Promise<void> {
    const r = await this.qido.search(req, { level: 'IMAGE', studyUid: study, seriesUid: series }, q);
    searchResults(res, r);
  }

  @Get('studies/:study')
  retrieveStudy(@Req() req: IncomingMessage, @Res() res: ServerResponse, @Param('study') study: string): Promise<void> {
    return this.wado.instances(req, res, { studyUid: study });
  }

  @Get('studies/:study/metadata')
  retrieveStudyMetadata(@Req() req: IncomingMessage, @Res() res: ServerResponse, @Param('study') study: string): Promise<void> {
    return this.wado.metadata(req, res, { studyUid: study });
  }

  @Get('studies/:study/series/:series')
  retrieveSeries(@Req() req: IncomingMessage, @Res() res: ServerResponse, @Param('study') study: string, @Param('series') series: string): Promise<void> {
    return this.wado.instances(req, res, { studyUid: study, seriesUid: series });
  }

  @Get('studies/:study/series/:series/metadata')
  retrieveSeriesMetadata(@Req() req: IncomingMessage, @Res() res: ServerResponse, @Param('study') study: string, @Param('series') series: string): Promise<void> {
    return this.wado.metadata(req, res, { studyUid: study, seriesUid: series });
  }

  @Get('studies/:study/series/:series/instances/:instance')
  retrieveInstance(
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
    @Param('study') study: string,
    @Param('series') series: string,
    @Param('instance') instance: string,
  ): Promise<void> {
    return this.wado.instances(req, res, { studyUid: study, seriesUid: series, sopInstanceUid: instance });
  }

  @Get('studies/:study/series/:series/instances/:instance/metadata')
  retrieveInstanceMetadata(
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
    @Param('study') study: string,
    @Param('series') series: string,
    @Param('instance') instance: string,
  ): Promise<void> {
    return this.wado.metadata(req, res, { studyUid: study, seriesUid: series, sopInstanceUid: instance });
  }

  @Get('studies/:study/series/:series/instances/:instance/frames/:frames')
  retrieveFrames(
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
    @Param('study') study: string,
    @Param('series') series: string,
    @Param('instance') instance: string,
    @Param('frames') frames: string,
  ): Promise<void> {
    return this.wado.frames(req, res, { studyUid: study, seriesUid: series, sopInstanceUid: instance }, frames);
  }

  @Get('studies/:study/series/:series/instances/:instance/bulk/:tag')
  retrieveBulkData(
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
    @Param('study') study: string,
    @Param('series') series: string,
    @Param('instance') instance: string,
    @Param('tag') tag: string,
  ): Promise<void> {
    return this.wado.bulk(req, res, { studyUid: study, seriesUid: series, sopInstanceUid: instance }, tag);
  }
}
