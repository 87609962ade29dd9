import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { RegistryPatientState } from '../registry/registry.model.js';
import { type PatientDetail, PatientsService } from '../patients/patients.service.js';
import { PatientQueryDto } from './identity.dto.js';

/** The patient registry (ADT-fed): search and detail with identifiers, versions and merges. */
@ApiTags('Identity')
@ApiBearerAuth()
@Controller('api/v1/patients')
export class PatientsController {
  constructor(private readonly patients: PatientsService) {}

  @Get()
  @ApiOperation({ summary: 'Search the registry by identifier and/or name' })
  search(@Query() q: PatientQueryDto): Promise<RegistryPatientState[]> {
    return this.patients.search({ ...q, limit: q.limit ?? 100, offset: q.offset ?? 0 });
  }

  @Get(':id')
  @ApiOperation({ summary: 'One registry patient: identifiers, versions (who, when, which message), merges, linked index patients, open tasks' })
  detail(@Param('id') id: string): Promise<PatientDetail> {
    return this.patients.detail(id);
  }
}
