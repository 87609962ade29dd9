import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Length, Matches, Max, Min, ValidateIf } from 'class-validator';
import { PageDto } from '#vna/http';

const TIERS = ['Hot', 'Cool', 'Cold', 'Archive'] as const;

/** Why (kept in the audit trail with who and when). */
export class ReasonDto {
  @ApiProperty({ example: 'retention period confirmed with the records manager' })
  @IsString()
  @Length(1, 2000)
  reason!: string;
}

/** Criteria shared by tiering and retention policies: absent ones match anything. */
class PolicyCriteriaDto {
  @ApiPropertyOptional({ default: 100, description: 'lower first: the first matching policy decides' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  priority?: number;

  @ApiPropertyOptional({ example: 'CT' })
  @IsOptional()
  @IsString()
  @Length(1, 16)
  modality?: string;

  @ApiPropertyOptional({ description: 'the source AE title objects came from' })
  @IsOptional()
  @IsString()
  @Length(1, 16)
  sourceAet?: string;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

export class TierPolicyDto extends PolicyCriteriaDto {
  @ApiProperty({ enum: TIERS })
  @IsIn(TIERS)
  tier!: (typeof TIERS)[number];

  @ApiPropertyOptional({ description: 'days since the study date (the day received when it has none)', example: 90 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100_000)
  minAgeDays?: number;

  @ApiPropertyOptional({ description: 'days since the study was last retrieved', example: 30 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100_000)
  minIdleDays?: number;

  @ApiPropertyOptional({ description: 'objects of at least this many bytes' })
  @IsOptional()
  @IsInt()
  @Min(0)
  minSizeBytes?: number;
}

export class RetentionPolicyDto extends PolicyCriteriaDto {
  @ApiProperty({ description: 'kept this many years after the study date', example: 10 })
  @IsInt()
  @Min(0)
  @Max(200)
  retainYears!: number;

  @ApiPropertyOptional({ description: 'a patient younger than this at the study: kept until this age plus retainYears, if later', example: 18 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(30)
  minorAge?: number;

  @ApiPropertyOptional({ description: 'Study Description, * and ? wildcards, case-insensitive', example: '*MAMMO*' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  descriptionPattern?: string;
}

export class OverrideDto extends ReasonDto {
  @ApiProperty({ nullable: true, description: 'YYYY-MM-DD, or null to keep the study indefinitely', example: '2040-01-01' })
  @ValidateIf((_, v) => v !== null)
  @IsString()
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'expiresOn must be YYYY-MM-DD or null' })
  expiresOn!: string | null;
}

export class ExpiredQueryDto extends PageDto {
  @ApiPropertyOptional({ description: 'as of this date (YYYY-MM-DD; today by default)' })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'asOf must be YYYY-MM-DD' })
  asOf?: string;
}

export class DeletionRequestDto extends ReasonDto {
  @ApiProperty()
  @IsString()
  @Matches(/^[0-9.]{1,64}$/, { message: 'studyUid must be a UID' })
  studyUid!: string;
}

export class DeletionQueryDto extends PageDto {
  @ApiPropertyOptional({ enum: ['proposed', 'approved', 'deleted', 'rejected', 'blocked'] })
  @IsOptional()
  @IsIn(['proposed', 'approved', 'deleted', 'rejected', 'blocked'])
  status?: string;
}

export class TombstoneQueryDto extends PageDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 64)
  studyUid?: string;
}

export class LegalHoldDto {
  @ApiProperty({ enum: ['patient', 'study'] })
  @IsIn(['patient', 'study'])
  scope!: 'patient' | 'study';

  @ApiPropertyOptional({ description: 'scope patient: the Patient ID as the index knows it now' })
  @ValidateIf((o: LegalHoldDto) => o.scope === 'patient')
  @IsString()
  @Length(1, 64)
  patientId?: string;

  @ApiPropertyOptional({ description: 'scope patient: its issuer (the default issuer when left out)' })
  @IsOptional()
  @IsString()
  @Length(0, 64)
  issuer?: string;

  @ApiPropertyOptional({ description: 'scope study' })
  @ValidateIf((o: LegalHoldDto) => o.scope === 'study')
  @IsString()
  @Matches(/^[0-9.]{1,64}$/, { message: 'studyUid must be a UID' })
  studyUid?: string;

  @ApiProperty({ example: 'litigation: malpractice claim' })
  @IsString()
  @Length(1, 2000)
  reason!: string;

  @ApiProperty({ example: 'CASE-2026-0142' })
  @IsString()
  @Length(1, 200)
  caseReference!: string;
}

export class LegalHoldQueryDto extends PageDto {
  @ApiPropertyOptional({ description: 'active (true) or released (false) holds only' })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  active?: boolean;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 64)
  studyUid?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 64)
  patientId?: string;
}

export class VerificationQueryDto extends PageDto {
  @ApiPropertyOptional({ enum: ['missing', 'corrupt', 'unreadable'] })
  @IsOptional()
  @IsIn(['missing', 'corrupt', 'unreadable'])
  status?: 'missing' | 'corrupt' | 'unreadable';
}
