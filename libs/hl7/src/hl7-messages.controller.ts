import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsString, Length, Matches } from 'class-validator';
import { Caller, type Principal, RequireRole } from '#vna/auth';
import { PageDto } from '#vna/http';
import type { AckCode } from './hl7-ack.js';
import { Hl7MessageLogService } from './hl7-message-log.service.js';
import type { Hl7MessageDetail, Hl7MessageSummary } from './hl7-message.repository.js';

export class Hl7MessageQueryDto extends PageDto {
  @ApiPropertyOptional({ description: 'MSH-10 of the message' })
  @IsOptional()
  @IsString()
  @Length(1, 199)
  controlId?: string;

  @ApiPropertyOptional({ description: 'MSH-9.1, or type^trigger', example: 'ADT^A08' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9]{1,10}(\^[A-Za-z0-9]{1,10})?$/)
  type?: string;

  @ApiPropertyOptional({ description: 'MSH-9.2', example: 'A08' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9]{1,10}$/)
  trigger?: string;

  @ApiPropertyOptional({ description: 'a patient identifier the message was about (PID-3.1, or as its handler reported it)' })
  @IsOptional()
  @IsString()
  @Length(1, 250)
  patientId?: string;

  @ApiPropertyOptional({ enum: ['AA', 'AE', 'AR'], description: 'MSA-1 of the ACK it got' })
  @IsOptional()
  @IsIn(['AA', 'AE', 'AR'])
  status?: AckCode;

  @ApiPropertyOptional({ description: 'MSH-3.1' })
  @IsOptional()
  @IsString()
  @Length(0, 250)
  sendingApplication?: string;

  @ApiPropertyOptional({ description: 'MSH-4.1' })
  @IsOptional()
  @IsString()
  @Length(0, 250)
  sendingFacility?: string;

  @ApiPropertyOptional({ description: 'received at or after (ISO 8601)', example: '2024-11-01T00:00:00Z' })
  @IsOptional()
  @IsISO8601()
  since?: string;

  @ApiPropertyOptional({ description: 'received before (ISO 8601)' })
  @IsOptional()
  @IsISO8601()
  until?: string;
}

/** The HL7 message log: every message received over MLLP and the ACK it got. */
@ApiTags('HL7')
@ApiBearerAuth()
@Controller('api/v1/hl7/messages')
export class Hl7MessagesController {
  constructor(private readonly log: Hl7MessageLogService) {}

  @Get()
  @ApiOperation({ summary: 'Search received messages (newest first); no message content' })
  search(@Query() query: Hl7MessageQueryDto): Promise<Hl7MessageSummary[]> {
    return this.log.search(query);
  }

  @Get(':id')
  @RequireRole('admin')
  @ApiOperation({ summary: 'One message: the raw text as received and its ACK (patient data: admin only)' })
  get(@Param('id') id: string, @Caller() caller: Principal): Promise<Hl7MessageDetail> {
    return this.log.get(id, caller.name);
  }
}
