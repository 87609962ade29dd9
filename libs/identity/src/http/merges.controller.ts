import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, type Principal, RequireRole } from '#vna/auth';
import type { PatientMerge } from '../merges/merge.model.js';
import { MergeService } from '../merges/merge.service.js';
import { DecisionDto, MergeQueryDto } from './identity.dto.js';

/** Merges (A40) and identifier changes (A47): listed, held ones applied or rejected, applied ones unmerged. */
@ApiTags('Identity')
@ApiBearerAuth()
@Controller('api/v1/merges')
export class MergesController {
  constructor(private readonly merges: MergeService) {}

  @Get()
  @ApiOperation({ summary: 'Merges and identifier changes, newest first (filter by status, kind, patient)' })
  list(@Query() q: MergeQueryDto): Promise<PatientMerge[]> {
    return this.merges.list({ ...q, registryPatientId: q.registryPatientId?.toString(), limit: q.limit ?? 100, offset: q.offset ?? 0 });
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<PatientMerge> {
    return this.merges.get(id);
  }

  @Post(':id/unmerge')
  @HttpCode(200)
  @RequireRole('admin')
  @ApiOperation({ summary: 'Reverse an applied merge exactly (registry and index)' })
  unmerge(@Param('id') id: string, @Body() body: DecisionDto, @Caller() caller: Principal): Promise<PatientMerge> {
    return this.merges.unmerge(id, caller.name, body.reason);
  }

  @Post(':id/apply')
  @HttpCode(200)
  @RequireRole('admin')
  @ApiOperation({ summary: 'Apply a merge held for review' })
  apply(@Param('id') id: string, @Body() body: DecisionDto, @Caller() caller: Principal): Promise<PatientMerge> {
    return this.merges.applyHeld(id, caller.name, body.reason);
  }

  @Post(':id/reject')
  @HttpCode(200)
  @RequireRole('admin')
  @ApiOperation({ summary: 'Reject a merge held for review (nothing changes)' })
  reject(@Param('id') id: string, @Body() body: DecisionDto, @Caller() caller: Principal): Promise<PatientMerge> {
    return this.merges.reject(id, caller.name, body.reason);
  }
}
