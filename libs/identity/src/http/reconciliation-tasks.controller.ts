import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, type Principal, RequireRole } from '#vna/auth';
import type { ReconciliationTask } from '../reconciliation/reconciliation-task.repository.js';
import { ReconciliationService } from '../reconciliation/reconciliation.service.js';
import { DecisionDto, ReassignDto, TaskQueryDto } from './identity.dto.js';

/** Identity questions for HIM staff (IHE PIR): each decision is kept with who, when and why. */
@ApiTags('Identity')
@ApiBearerAuth()
@Controller('api/v1/reconciliation-tasks')
export class ReconciliationTasksController {
  constructor(private readonly tasks: ReconciliationService) {}

  @Get()
  @ApiOperation({ summary: 'Tasks, newest first (filter by status, kind, subject, study)' })
  list(@Query() q: TaskQueryDto): Promise<ReconciliationTask[]> {
    return this.tasks.list({ ...q, limit: q.limit ?? 100, offset: q.offset ?? 0 });
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<ReconciliationTask> {
    return this.tasks.get(id);
  }

  @Post(':id/accept')
  @HttpCode(200)
  @RequireRole('admin')
  @ApiOperation({ summary: 'The case stands as it is (a merge-review task: the merge is applied)' })
  accept(@Param('id') id: string, @Body() body: DecisionDto, @Caller() caller: Principal): Promise<ReconciliationTask> {
    return this.tasks.accept(id, { user: caller.name, reason: body.reason });
  }

  @Post(':id/reassign')
  @HttpCode(200)
  @RequireRole('admin')
  @ApiOperation({ summary: "The objects belong to another registry patient (by identifier): they carry that patient's identity" })
  reassign(@Param('id') id: string, @Body() body: ReassignDto, @Caller() caller: Principal): Promise<ReconciliationTask> {
    return this.tasks.reassign(id, { user: caller.name, reason: body.reason }, { patientId: body.patientId, issuer: body.issuer });
  }

  @Post(':id/dismiss')
  @HttpCode(200)
  @RequireRole('admin')
  @ApiOperation({ summary: 'Not a case: closed without a change (a merge-review task: the merge is rejected)' })
  dismiss(@Param('id') id: string, @Body() body: DecisionDto, @Caller() caller: Principal): Promise<ReconciliationTask> {
    return this.tasks.dismiss(id, { user: caller.name, reason: body.reason });
  }

  @Post(':id/undo')
  @HttpCode(200)
  @RequireRole('admin')
  @ApiOperation({ summary: 'Undo a reassignment: the rows get their previous link back and the question is open again' })
  undo(@Param('id') id: string, @Body() body: DecisionDto, @Caller() caller: Principal): Promise<ReconciliationTask> {
    return this.tasks.undoReassign(id, { user: caller.name, reason: body.reason });
  }
}
