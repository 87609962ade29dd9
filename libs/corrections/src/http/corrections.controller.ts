import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, type Principal, RequireRole } from '#vna/auth';
import type { Correction } from '../correction.model.js';
import { CorrectionService } from '../correction.service.js';
import { actorOf, CorrectionQueryDto, JoinStudiesDto, MoveSeriesDto, ReasonDto, SplitStudyDto, StudyAttributesDto } from './corrections.dto.js';

/** Corrections of studies and series by HIM: recorded (who, when, why) and reversible. */
@ApiTags('Corrections')
@ApiBearerAuth()
@ApiHeader({ name: 'X-User', required: false, description: 'the person acting (recorded); the API key’s name when absent' })
@Controller('api/v1')
export class CorrectionsController {
  constructor(private readonly corrections: CorrectionService) {}

  @Get('corrections')
  @ApiOperation({ summary: 'Corrections, newest first (filter by study, kind)' })
  list(@Query() q: CorrectionQueryDto): Promise<Correction[]> {
    return this.corrections.list({ ...q, limit: q.limit ?? 100, offset: q.offset ?? 0 });
  }

  @Get('corrections/:id')
  get(@Param('id') id: string): Promise<Correction> {
    return this.corrections.get(id);
  }

  @Post('corrections/:id/undo')
  @HttpCode(200)
  @RequireRole('writer')
  @ApiOperation({ summary: 'Undo a correction exactly (refused when its rows changed since)' })
  undo(@Param('id') id: string, @Body() body: ReasonDto, @Caller() caller: Principal, @Headers('x-user') user?: string): Promise<Correction> {
    return this.corrections.undo(id, body.reason, actorOf(caller, user));
  }

  @Post('studies/:studyUid/attributes')
  @HttpCode(200)
  @RequireRole('writer')
  @ApiOperation({ summary: 'Correct study-level attributes (query and retrieve show them at once)' })
  updateStudy(@Param('studyUid') studyUid: string, @Body() body: StudyAttributesDto, @Caller() caller: Principal, @Headers('x-user') user?: string): Promise<Correction> {
    return this.corrections.updateStudy(studyUid, body.attributes, body.reason, actorOf(caller, user));
  }

  @Post('series/:seriesUid/move')
  @HttpCode(200)
  @RequireRole('writer')
  @ApiOperation({ summary: 'Move a series into another study, or to another patient (a new study)' })
  moveSeries(@Param('seriesUid') seriesUid: string, @Body() body: MoveSeriesDto, @Caller() caller: Principal, @Headers('x-user') user?: string): Promise<Correction> {
    return this.corrections.moveSeries(seriesUid, { studyUid: body.targetStudyUid, patient: body.targetPatient }, body.reason, actorOf(caller, user));
  }

  @Post('studies/:studyUid/split')
  @HttpCode(200)
  @RequireRole('writer')
  @ApiOperation({ summary: 'Split series off into a new study (new Study Instance UID, in `request.studyUid` of the answer)' })
  split(@Param('studyUid') studyUid: string, @Body() body: SplitStudyDto, @Caller() caller: Principal, @Headers('x-user') user?: string): Promise<Correction> {
    return this.corrections.splitStudy(studyUid, body.seriesUids, body.targetPatient, body.reason, actorOf(caller, user));
  }

  @Post('studies/:studyUid/join')
  @HttpCode(200)
  @RequireRole('writer')
  @ApiOperation({ summary: 'Join studies of one patient into this one (their series move here)' })
  join(@Param('studyUid') studyUid: string, @Body() body: JoinStudiesDto, @Caller() caller: Principal, @Headers('x-user') user?: string): Promise<Correction> {
    return this.corrections.joinStudies(studyUid, body.sourceStudyUids, body.reason, actorOf(caller, user));
  }
}
