import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, type Principal, RequireRole } from '#vna/auth';
import type { LegalHold } from '../holds/legal-hold.repository.js';
import { LegalHoldService } from '../holds/legal-hold.service.js';
import { LegalHoldDto, LegalHoldQueryDto, ReasonDto } from './lifecycle.dto.js';

/** Legal holds on a patient or a study: they block expiry and deletion by every path. */
@ApiTags('Retention')
@ApiBearerAuth()
@Controller('api/v1/legal-holds')
export class LegalHoldsController {
  constructor(private readonly holds: LegalHoldService) {}

  @Get()
  list(@Query() q: LegalHoldQueryDto): Promise<LegalHold[]> {
    return this.holds.list({ active: q.active, studyUid: q.studyUid, patientId: q.patientId, limit: q.limit ?? 100, offset: q.offset ?? 0 });
  }

  @Post()
  @RequireRole('admin')
  @ApiOperation({ summary: 'Place a legal hold (reason, case reference; who placed it is the caller)' })
  place(@Body() b: LegalHoldDto, @Caller() caller: Principal): Promise<LegalHold> {
    return this.holds.place(b, caller.name);
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<LegalHold> {
    return this.holds.get(id);
  }

  @Post(':id/release')
  @HttpCode(200)
  @RequireRole('admin')
  release(@Param('id') id: string, @Body() b: ReasonDto, @Caller() caller: Principal): Promise<LegalHold> {
    return this.holds.release(id, caller.name, b.reason);
  }
}
