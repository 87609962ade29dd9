import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsObject, IsOptional, IsString, Length, ValidateNested } from 'class-validator';
import type { Principal } from '#vna/auth';
import { PageDto } from '#vna/http';
import type { CorrectionActor } from '../correction.model.js';
import { CorrectionError } from '../corrections.errors.js';

/**
 * Who acts: the person named by the X-User header (a console or HIM system acting for its user),
 * through the caller's API key; the key's name when no X-User is given.
 */
export function actorOf(caller: Principal, xUser: string | undefined): CorrectionActor {
  if (xUser === undefined) return { user: caller.name, apiKey: caller.name };
  const user = xUser.trim();
  if (user === '' || user.length > 128 || /[\u0000-\u001f\u007f]/.test(user)) throw new CorrectionError('invalid', 'X-User must be 1-128 printable characters');
  return { user, apiKey: caller.name };
}

/** Why (kept with who and when). */
export class ReasonDto {
  @ApiProperty({ description: 'why (kept with who and when)', example: 'wrong accession keyed at the modality' })
  @IsString()
  @Length(1, 2000)
  reason!: string;
}

export class StudyAttributesDto extends ReasonDto {
  @ApiProperty({
    description: 'keyword to new value (null empties it): StudyDescription, AccessionNumber, StudyDate, StudyTime, ReferringPhysicianName, StudyID',
    example: { StudyDescription: 'CT CHEST W/O', AccessionNumber: 'ACC-1234' },
  })
  @IsObject()
  attributes!: Record<string, unknown>;
}

export class PatientTargetDto {
  @ApiProperty({ description: 'the patient’s current Patient ID', example: 'MRN-1001' })
  @IsString()
  @Length(1, 64)
  patientId!: string;

  @ApiPropertyOptional({ description: 'its issuer (IssuerOfPatientID) as the index knows it now; when left out, the Patient ID must be unique across issuers' })
  @IsOptional()
  @IsString()
  @Length(0, 64)
  issuer?: string;
}

export class MoveSeriesDto extends ReasonDto {
  @ApiPropertyOptional({ description: 'the study to move the series into' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  targetStudyUid?: string;

  @ApiPropertyOptional({ description: 'or: the patient to move it to (a new study of that patient)', type: PatientTargetDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => PatientTargetDto)
  targetPatient?: PatientTargetDto;
}

export class SplitStudyDto extends ReasonDto {
  @ApiProperty({ description: 'the series that go to the new study (Series Instance UIDs)', type: [String] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  @Length(1, 64, { each: true })
  seriesUids!: string[];

  @ApiPropertyOptional({ description: 'the new study’s patient (default: the study’s own)', type: PatientTargetDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => PatientTargetDto)
  targetPatient?: PatientTargetDto;
}

export class JoinStudiesDto extends ReasonDto {
  @ApiProperty({ description: 'the studies whose series move into this one (Study Instance UIDs)', type: [String] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @Length(1, 64, { each: true })
  sourceStudyUids!: string[];
}

export class CorrectionQueryDto extends PageDto {
  @ApiPropertyOptional({ description: 'corrections touching this study' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  studyUid?: string;

  @ApiPropertyOptional({ enum: ['study-attributes', 'move-series', 'split-study', 'join-studies'] })
  @IsOptional()
  @IsIn(['study-attributes', 'move-series', 'split-study', 'join-studies'])
  kind?: 'study-attributes' | 'move-series' | 'split-study' | 'join-studies';
}

export class RejectionQueryDto extends PageDto {
  @ApiPropertyOptional({ enum: ['active', 'revoked', 'restored'] })
  @IsOptional()
  @IsIn(['active', 'revoked', 'restored'])
  state?: 'active' | 'revoked' | 'restored';

  @ApiPropertyOptional({ enum: ['113001', '113037', '113038', '113039'] })
  @IsOptional()
  @IsIn(['113001', '113037', '113038', '113039'])
  reasonCode?: string;

  @ApiPropertyOptional({ description: 'rejections of instances of this study (as the note named it)' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  studyUid?: string;
}
