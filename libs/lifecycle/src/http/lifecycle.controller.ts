import { Body, Controller, Delete, Get, HttpCode, Param, ParseEnumPipe, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, type Principal, RequireRole } from '#vna/auth';
import { type LifecycleJob, LifecycleJobs } from '../lifecycle.scheduler.js';
import type { StoredObjectState, TierPolicy } from '../tiering/tier-policy.repository.js';
import { TieringService } from '../tiering/tiering.service.js';
import type { VerificationFinding } from '../verification/verification.repository.js';
import { VerificationService } from '../verification/verification.service.js';
import { TierPolicyDto, VerificationQueryDto } from './lifecycle.dto.js';

const JOBS = { rehydration: 'rehydration', prefetch: 'prefetch', tiering: 'tiering', retention: 'retention', holds: 'holds', verification: 'verification' } as const;

/** Tiering policies, storage figures, verification findings, and the scheduled jobs run on demand. */
@ApiTags('Lifecycle')
@ApiBearerAuth()
@Controller('api/v1/lifecycle')
export class LifecycleController {
  constructor(
    private readonly tiering: TieringService,
    private readonly verification: VerificationService,
    private readonly jobs: LifecycleJobs,
  ) {}

  @Get('tier-policies')
  policies(): Promise<TierPolicy[]> {
    return this.tiering.listPolicies();
  }

  @Put('tier-policies/:name')
  @RequireRole('admin')
  @ApiOperation({ summary: 'Create or replace a tiering policy (applied by the next tiering run)' })
  savePolicy(@Param('name') name: string, @Body() body: TierPolicyDto, @Caller() caller: Principal): Promise<TierPolicy> {
    return this.tiering.savePolicy({ name, priority: body.priority ?? 100, tier: body.tier, minAgeDays: body.minAgeDays ?? null, minIdleDays: body.minIdleDays ?? null, modality: body.modality ?? null, minSizeBytes: body.minSizeBytes ?? null, sourceAet: body.sourceAet ?? null, enabled: body.enabled ?? true }, caller.name);
  }

  @Delete('tier-policies/:name')
  @HttpCode(204)
  @RequireRole('admin')
  deletePolicy(@Param('name') name: string): Promise<void> {
    return this.tiering.deletePolicy(name);
  }

  @Get('storage')
  @ApiOperation({ summary: 'Objects and bytes per tier, objects rehydrating, verification results' })
  async storage(): Promise<Record<string, unknown>> {
    return { ...(await this.tiering.refreshGauges()), verification: await this.verification.refreshGauges() };
  }

  @Get('studies/:studyUid')
  @ApiOperation({ summary: "A study's objects: tier, availability (ONLINE/NEARLINE), rehydration status, held Hot until, last verification" })
  study(@Param('studyUid') studyUid: string): Promise<StoredObjectState[]> {
    return this.tiering.study(studyUid);
  }

  @Get('verification')
  @ApiOperation({ summary: 'Objects the storage verification found missing, corrupt or unreadable' })
  findings(@Query() q: VerificationQueryDto): Promise<VerificationFinding[]> {
    return this.verification.failures(q.status, q.limit ?? 100, q.offset ?? 0);
  }

  @Post('jobs/:job')
  @HttpCode(200)
  @RequireRole('admin')
  @ApiOperation({ summary: 'Run a lifecycle job now: rehydration, prefetch, tiering, retention, holds (mirror onto newly stored objects) or verification' })
  run(@Param('job', new ParseEnumPipe(JOBS)) job: LifecycleJob): Promise<Record<string, unknown>> {
    return this.jobs.run(job);
  }
}
