import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, type Principal, RequireRole } from '#vna/auth';
import type { DeletionRequest, Tombstone } from '../deletion/deletion.repository.js';
import { DeletionService } from '../deletion/deletion.service.js';
import type { ExpiredStudy, RetentionPolicy, StudyRetention } from '../retention/retention.repository.js';
import { RetentionService } from '../retention/retention.service.js';
import { DeletionQueryDto, DeletionRequestDto, ExpiredQueryDto, OverrideDto, ReasonDto, RetentionPolicyDto, TombstoneQueryDto } from './lifecycle.dto.js';

/** Retention policies, each study's expiry (seen and overridden by HIM), the dry run, deletion requests and tombstones. */
@ApiTags('Retention')
@ApiBearerAuth()
@Controller('api/v1/retention')
export class RetentionController {
  constructor(
    private readonly retention: RetentionService,
    private readonly deletion: DeletionService,
  ) {}

  @Get('policies')
  policies(): Promise<RetentionPolicy[]> {
    return this.retention.listPolicies();
  }

  @Put('policies/:name')
  @RequireRole('admin')
  @ApiOperation({ summary: 'Create or replace a retention policy; every expiry not set by hand is recomputed' })
  savePolicy(@Param('name') name: string, @Body() b: RetentionPolicyDto, @Caller() caller: Principal): Promise<RetentionPolicy> {
    return this.retention.savePolicy({ name, priority: b.priority ?? 100, retainYears: b.retainYears, minorAge: b.minorAge ?? null, modality: b.modality ?? null, sourceAet: b.sourceAet ?? null, descriptionPattern: b.descriptionPattern ?? null, enabled: b.enabled ?? true }, caller.name);
  }

  @Delete('policies/:name')
  @HttpCode(204)
  @RequireRole('admin')
  deletePolicy(@Param('name') name: string, @Caller() caller: Principal): Promise<void> {
    return this.retention.deletePolicy(name, caller.name);
  }

  @Get('studies/:studyUid')
  @ApiOperation({ summary: "A study's expiry, the policy that gave it (or who set it and why), and whether a hold keeps it" })
  study(@Param('studyUid') studyUid: string): Promise<StudyRetention> {
    return this.retention.study(studyUid);
  }

  @Put('studies/:studyUid')
  @RequireRole('admin')
  @ApiOperation({ summary: "Set a study's expiry by hand, with a reason (policy changes leave it alone)" })
  override(@Param('studyUid') studyUid: string, @Body() b: OverrideDto, @Caller() caller: Principal): Promise<StudyRetention> {
    return this.retention.override(studyUid, b.expiresOn, b.reason, caller.name);
  }

  @Post('studies/:studyUid/release-override')
  @HttpCode(200)
  @RequireRole('admin')
  @ApiOperation({ summary: 'Give the study back to the policies' })
  releaseOverride(@Param('studyUid') studyUid: string, @Body() b: ReasonDto, @Caller() caller: Principal): Promise<StudyRetention> {
    return this.retention.release(studyUid, b.reason, caller.name);
  }

  @Get('expired')
  @ApiOperation({ summary: 'Dry run: the studies expired on a date, why (policy, expiry), their size, and which a hold keeps' })
  expired(@Query() q: ExpiredQueryDto): Promise<ExpiredStudy[]> {
    return this.retention.expired(q.asOf, q.limit ?? 100, q.offset ?? 0);
  }

  @Get('deletions')
  deletions(@Query() q: DeletionQueryDto): Promise<DeletionRequest[]> {
    return this.deletion.list(q.status, q.limit ?? 100, q.offset ?? 0);
  }

  @Post('deletions')
  @RequireRole('admin')
  @ApiOperation({ summary: "Ask for a study's deletion (it still needs its approvals); refused under legal hold" })
  request(@Body() b: DeletionRequestDto, @Caller() caller: Principal): Promise<DeletionRequest> {
    return this.deletion.request(b.studyUid, b.reason, caller.name);
  }

  @Get('deletions/:id')
  deletionRequest(@Param('id') id: string): Promise<DeletionRequest> {
    return this.deletion.get(id);
  }

  @Post('deletions/:id/approve')
  @HttpCode(200)
  @RequireRole('admin')
  @ApiOperation({ summary: 'Approve a deletion (two-person rule when configured: another user than the first); the last approval deletes' })
  approve(@Param('id') id: string, @Body() b: ReasonDto, @Caller() caller: Principal): Promise<DeletionRequest> {
    return this.deletion.approve(id, caller.name, b.reason);
  }

  @Post('deletions/:id/reject')
  @HttpCode(200)
  @RequireRole('admin')
  reject(@Param('id') id: string, @Body() b: ReasonDto, @Caller() caller: Principal): Promise<DeletionRequest> {
    return this.deletion.reject(id, caller.name, b.reason);
  }

  @Get('tombstones')
  @ApiOperation({ summary: 'What was deleted: UIDs, hashes, policy, approvers, time' })
  tombstones(@Query() q: TombstoneQueryDto): Promise<Tombstone[]> {
    return this.deletion.tombstones(q.studyUid, q.limit ?? 100, q.offset ?? 0);
  }
}
