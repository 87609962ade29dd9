import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsObject, IsOptional, IsString, Length, Min } from 'class-validator';

export class RuleChangeDto {
  @ApiProperty({
    description: 'the rule: name, phase (ingest|egress), enabled, priority, indexOnly, conditions, actions (see libs/normalization README)',
    example: { name: 'CT1 issuer', phase: 'ingest', priority: 50, conditions: [{ context: 'aet', equals: 'CT1' }], actions: [{ op: 'issuer', value: 'HOSP_A' }] },
  })
  @IsObject()
  rule!: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'why (kept with the version, who and when)' })
  @IsOptional()
  @IsString()
  @Length(0, 2000)
  reason?: string;

  @ApiPropertyOptional({ description: 'the version this change replaces: refused with 409 when the rule has moved on' })
  @IsOptional()
  @IsInt()
  @Min(1)
  expectedVersion?: number;
}

export class RuleDeleteDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(0, 2000)
  reason?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  expectedVersion?: number;
}

export class RuleListDto {
  @ApiPropertyOptional({ description: 'deleted rules too', enum: ['true', 'false'] })
  @IsOptional()
  @IsIn(['true', 'false'])
  includeDeleted?: 'true' | 'false';
}

/** Where a Part 10 dry run's object comes from (query parameters with an application/dicom body). */
export class DryRunQueryDto {
  @ApiPropertyOptional({ enum: ['ingest', 'egress'], default: 'ingest' })
  @IsOptional()
  @IsIn(['ingest', 'egress'])
  phase?: 'ingest' | 'egress';

  @ApiPropertyOptional({ description: 'the calling AE title (ingest) or destination AE title (egress)' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  aet?: string;

  @ApiPropertyOptional({ description: 'dimse, stow, import (ingest) or dimse, dicomweb (egress)' })
  @IsOptional()
  @IsString()
  @Length(1, 16)
  sourceKind?: string;

  @ApiPropertyOptional({ description: 'the import batch (STOW-RS X-VNA-Import-Batch)' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  batch?: string;
}
