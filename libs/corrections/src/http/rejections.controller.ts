import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, type Principal, RequireRole } from '#vna/auth';
import type { Rejection } from '../iocm/rejection.repository.js';
import { RejectionService, type RevocationResult } from '../iocm/rejection.service.js';
import { actorOf, ReasonDto, RejectionQueryDto } from './corrections.dto.js';

/** IHE IOCM rejections (from Key Object Selection rejection notes): listed, and revoked by an admin. */
@ApiTags('Corrections')
@ApiBearerAuth()
@Controller('api/v1/rejections')
export class RejectionsController {
  constructor(private readonly rejections: RejectionService) {}

  @Get()
  @ApiOperation({ summary: 'Rejected instances, newest first (filter by state, reason code, study)' })
  list(@Query() q: RejectionQueryDto): Promise<Rejection[]> {
    return this.rejections.list({ ...q, limit: q.limit ?? 100, offset: q.offset ?? 0 });
  }

  @Post(':noteSopInstanceUid/revoke')
  @HttpCode(200)
  @RequireRole('admin')
  @ApiOperation({ summary: 'Revoke a rejection note: the instances it rejected are visible again (recorded)' })
  revoke(@Param('noteSopInstanceUid') noteUid: string, @Body() body: ReasonDto, @Caller() caller: Principal, @Headers('x-user') user?: string): Promise<RevocationResult> {
    return this.rejections.revoke(noteUid, body.reason, actorOf(caller, user).user);
  }
}
