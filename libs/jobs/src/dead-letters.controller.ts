import { Controller, DefaultValuePipe, Get, HttpCode, NotFoundException, Param, ParseIntPipe, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { RequireRole } from '#vna/auth';
import { OutboxRepository, type OutboxRow } from './outbox.repository.js';
import { QueueService } from './queue.service.js';

/** Side effects whose retries are exhausted (uploads, later FHIR and HL7 deliveries): seen and replayed here. */
@ApiTags('Operations')
@ApiBearerAuth()
@Controller('api/v1/dead-letters')
export class DeadLettersController {
  constructor(
    private readonly outbox: OutboxRepository,
    private readonly queues: QueueService,
  ) {}

  @Get()
  @RequireRole('admin')
  list(
    @Query('limit', new DefaultValuePipe(100), ParseIntPipe) limit: number,
    @Query('offset', new DefaultValuePipe(0), ParseIntPipe) offset: number,
    @Query('topic') topic?: string,
  ): Promise<OutboxRow[]> {
    return this.outbox.listDead(Math.min(Math.max(limit, 1), 1000), Math.max(offset, 0), topic);
  }

  @Post(':id/replay')
  @HttpCode(202)
  @RequireRole('admin')
  async replay(@Param('id', ParseIntPipe) id: number): Promise<OutboxRow> {
    const row = await this.queues.replay(String(id));
    if (!row) throw new NotFoundException(`no dead letter ${id}`);
    return row;
  }
}
