import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Length, Min } from 'class-validator';
import { PageDto } from '#vna/http';

/** A HIM decision: why (kept in the audit trail with who and when). */
export class DecisionDto {
  @ApiProperty({ description: 'why (kept with who and when)', example: 'confirmed with the ward: same patient' })
  @IsString()
  @Length(1, 2000)
  reason!: string;
}

export class ReassignDto extends DecisionDto {
  @ApiProperty({ description: 'an identifier of the registry patient the objects belong to (PID-3.1)', example: 'MRN-1001' })
  @IsString()
  @Length(1, 64)
  patientId!: string;

  @ApiPropertyOptional({ description: 'its assigning authority (IssuerOfPatientID); the default issuer when left out' })
  @IsOptional()
  @IsString()
  @Length(0, 64)
  issuer?: string;
}

export class PatientQueryDto extends PageDto {
  @ApiPropertyOptional({ description: 'an identifier (any issuer unless `issuer` is given)' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  patientId?: string;

  @ApiPropertyOptional({ description: 'assigning authority (IssuerOfPatientID)' })
  @IsOptional()
  @IsString()
  @Length(0, 64)
  issuer?: string;

  @ApiPropertyOptional({ description: 'alphabetic name, case-insensitive; * and ? are wildcards, otherwise a prefix', example: 'DOE^J*' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  name?: string;

  @ApiPropertyOptional({ enum: ['active', 'merged', 'void'] })
  @IsOptional()
  @IsIn(['active', 'merged', 'void'])
  status?: 'active' | 'merged' | 'void';
}

export class MergeQueryDto extends PageDto {
  @ApiPropertyOptional({ enum: ['held', 'applied', 'rejected', 'unmerged'] })
  @IsOptional()
  @IsIn(['held', 'applied', 'rejected', 'unmerged'])
  status?: 'held' | 'applied' | 'rejected' | 'unmerged';

  @ApiPropertyOptional({ enum: ['merge', 'change-identifier'] })
  @IsOptional()
  @IsIn(['merge', 'change-identifier'])
  kind?: 'merge' | 'change-identifier';

  @ApiPropertyOptional({ description: 'the prior or surviving identifier' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  patientId?: string;

  @ApiPropertyOptional({ description: 'with patientId: its issuer' })
  @IsOptional()
  @IsString()
  @Length(0, 64)
  issuer?: string;

  @ApiPropertyOptional({ description: 'a registry patient (id) the merge is about' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  registryPatientId?: number;
}

export class TaskQueryDto extends PageDto {
  @ApiPropertyOptional({ enum: ['open', 'accepted', 'reassigned', 'dismissed', 'resolved'] })
  @IsOptional()
  @IsIn(['open', 'accepted', 'reassigned', 'dismissed', 'resolved'])
  status?: 'open' | 'accepted' | 'reassigned' | 'dismissed' | 'resolved';

  @ApiPropertyOptional({ description: "'unknown-patient', 'order-patient-mismatch', 'merge-review', ..." })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  kind?: string;

  @ApiPropertyOptional({ description: "what the task is about, e.g. 'patient:HOSP|12345' or 'merge:7'" })
  @IsOptional()
  @IsString()
  @Length(1, 300)
  subject?: string;

  @ApiPropertyOptional({ description: 'Study Instance UID' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  studyUid?: string;
}
