import type { IncomingMessage, ServerResponse } from 'node:http';
import { All, Controller, Inject, Req, Res, UseFilters } from '@nestjs/common';
import { ApiBearerAuth, ApiExcludeController } from '@nestjs/swagger';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { FhirApiService } from './fhir-api.service.js';
import { OperationOutcomeFilter, sendFhir, toFhirRequest } from './fhir-http.js';

/** The FHIR R4 API (/fhir/R4): HTTP in and out around the protocol core (FhirApiService). */
@ApiExcludeController()
@ApiBearerAuth()
@UseFilters(OperationOutcomeFilter)
@Controller('fhir/R4')
export class FhirController {
  constructor(
    private readonly api: FhirApiService,
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
  ) {}

  @All(['', '*path'])
  async handle(@Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    const answer = await this.api.handle(toFhirRequest(req, this.config.http.publicUrl));
    sendFhir(res, answer.status, answer.resource, req.method === 'HEAD');
  }
}
