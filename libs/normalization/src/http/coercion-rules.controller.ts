import type { IncomingMessage, ServerResponse } from 'node:http';
import { Body, Controller, Delete, Get, HttpCode, Param, ParseIntPipe, Post, Put, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, type Principal, RequireRole } from '#vna/auth';
import type { CoercionRuleVersion, InstanceCoercion, StoredCoercionRule } from '../coercion-rule.repository.js';
import { AsReceivedService } from '../as-received.service.js';
import { CoercionRulesService, type DryRunResult } from '../coercion-rules.service.js';
import { DryRunService } from '../dry-run.service.js';
import { DryRunQueryDto, RuleChangeDto, RuleDeleteDto, RuleListDto } from './coercion-rules.dto.js';

/** Coercion rules (libs/normalization): read by any caller, changed by admins, every change a new version. */
@ApiTags('Normalization')
@ApiBearerAuth()
@Controller('api/v1/coercion-rules')
export class CoercionRulesController {
  constructor(
    private readonly rules: CoercionRulesService,
    private readonly dryRuns: DryRunService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Current coercion rules in the order they run (includeDeleted=true: deleted ones too)' })
  list(@Query() q: RuleListDto): Promise<StoredCoercionRule[]> {
    return this.rules.list(q.includeDeleted === 'true');
  }

  @Post('dry-run')
  @HttpCode(200)
  @RequireRole('admin')
  @ApiOperation({
    summary: 'What the rules (and a rule being tried) do to an object, nothing stored',
    description: 'Body: application/dicom (a Part 10 object; phase, aet, sourceKind as query parameters) or application/json { object: DICOM JSON, phase?, aet?, sourceKind?, rule? }.',
  })
  dryRun(@Req() req: IncomingMessage, @Query() q: DryRunQueryDto, @Body() body: Record<string, unknown>): Promise<DryRunResult> {
    return this.dryRuns.run(req, q, body);
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<StoredCoercionRule> {
    return this.rules.get(id);
  }

  @Get(':id/versions')
  @ApiOperation({ summary: 'Every version of a rule: what it said, who changed it, when and why' })
  versions(@Param('id') id: string): Promise<CoercionRuleVersion[]> {
    return this.rules.versions(id);
  }

  @Get(':id/versions/:version')
  version(@Param('id') id: string, @Param('version', ParseIntPipe) version: number): Promise<CoercionRuleVersion> {
    return this.rules.version(id, version);
  }

  @Post()
  @RequireRole('admin')
  @ApiOperation({ summary: 'Create a rule (version 1); a broken rule is refused with 400 naming the part' })
  create(@Body() body: RuleChangeDto, @Caller() caller: Principal): Promise<StoredCoercionRule> {
    return this.rules.create(body, caller.name);
  }

  @Put(':id')
  @RequireRole('admin')
  @ApiOperation({ summary: 'Save a new version of a rule (expectedVersion: only if still at that version)' })
  update(@Param('id') id: string, @Body() body: RuleChangeDto, @Caller() caller: Principal): Promise<StoredCoercionRule> {
    return this.rules.update(id, body, caller.name);
  }

  @Delete(':id')
  @RequireRole('admin')
  @ApiOperation({ summary: 'Delete a rule (its versions stay readable; objects it touched keep their record)' })
  remove(@Param('id') id: string, @Query() q: RuleDeleteDto, @Caller() caller: Principal): Promise<StoredCoercionRule> {
    return this.rules.remove(id, caller.name, q.reason, q.expectedVersion);
  }
}

/** What ingest coercion did to an instance, and its original bytes (HIM, forensic use). */
@ApiTags('Normalization')
@ApiBearerAuth()
@Controller('api/v1')
export class InstanceCoercionController {
  constructor(
    private readonly rules: CoercionRulesService,
    private readonly asReceived: AsReceivedService,
  ) {}

  @Get('instances/:sopInstanceUid/coercion')
  @ApiOperation({ summary: 'The rule versions that touched an instance, its changed attributes, their values as received, and what ingest reported' })
  coercion(@Param('sopInstanceUid') uid: string): Promise<InstanceCoercion> {
    return this.rules.instanceCoercion(uid);
  }

  @Get('as-received/studies/:study')
  @RequireRole('admin')
  @ApiOperation({ summary: 'The study\'s objects as received (original bytes, no overlay), multipart/related; recorded' })
  study(@Res() res: ServerResponse, @Param('study') study: string, @Caller() caller: Principal): Promise<void> {
    return this.asReceived.send(res, { studyUid: study }, caller.name);
  }

  @Get('as-received/studies/:study/series/:series')
  @RequireRole('admin')
  series(@Res() res: ServerResponse, @Param('study') study: string, @Param('series') series: string, @Caller() caller: Principal): Promise<void> {
    return this.asReceived.send(res, { studyUid: study, seriesUid: series }, caller.name);
  }

  @Get('as-received/studies/:study/series/:series/instances/:instance')
  @RequireRole('admin')
  instance(@Res() res: ServerResponse, @Param('study') study: string, @Param('series') series: string, @Param('instance') instance: string, @Caller() caller: Principal): Promise<void> {
    return this.asReceived.send(res, { studyUid: study, seriesUid: series, sopInstanceUid: instance }, caller.name);
  }
}
