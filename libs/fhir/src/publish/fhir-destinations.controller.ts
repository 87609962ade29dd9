import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireRole } from '#vna/auth';
import { FhirDestinationDto } from './fhir-destinations.dto.js';
import { FhirDestinationsService } from './fhir-destinations.service.js';

/** FHIR servers that receive ImagingStudy (admin). Secrets are never returned. */
@ApiTags('FHIR')
@ApiBearerAuth()
@RequireRole('admin')
@Controller('api/v1/fhir-destinations')
export class FhirDestinationsController {
  constructor(private readonly destinations: FhirDestinationsService) {}

  @Get()
  @ApiOperation({ summary: 'Every destination: VNA_FHIR_PUBLISH_URL (id "env", read-only) and those added here' })
  list(): Promise<unknown> {
    return this.destinations.list();
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<unknown> {
    return this.destinations.get(id);
  }

  @Post()
  @ApiOperation({ summary: 'Add a destination; studies that change from now on are published to it' })
  create(@Body() dto: FhirDestinationDto): Promise<unknown> {
    return this.destinations.create(dto);
  }

  @Put(':id')
  update(@Param('id') id: string, @Body() dto: FhirDestinationDto): Promise<unknown> {
    return this.destinations.update(id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@Param('id') id: string): Promise<void> {
    return this.destinations.remove(id);
  }
}
