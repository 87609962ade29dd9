import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsObject, IsOptional, IsString, IsUrl, Length, ValidateNested } from 'class-validator';

export class FhirAuthDto {
  @ApiProperty({ enum: ['none', 'bearer', 'smart'], description: 'none; a fixed bearer token; or SMART Backend Services client credentials' })
  @IsIn(['none', 'bearer', 'smart'])
  kind!: 'none' | 'bearer' | 'smart';

  @ApiPropertyOptional({ description: 'bearer: the token' })
  @IsOptional()
  @IsString()
  @Length(1, 8192)
  token?: string;

  @ApiPropertyOptional({ description: 'smart: the authorization server token endpoint' })
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  tokenUrl?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 512)
  clientId?: string;

  @ApiPropertyOptional({ description: 'smart: client secret (client_secret_basic); or privateKeyFile' })
  @IsOptional()
  @IsString()
  @Length(1, 4096)
  clientSecret?: string;

  @ApiPropertyOptional({ description: 'smart: a PEM RSA private key file on the archive host (private_key_jwt, RS384)' })
  @IsOptional()
  @IsString()
  @Length(1, 4096)
  privateKeyFile?: string;

  @ApiPropertyOptional({ default: 'system/ImagingStudy.write system/Patient.read system/ServiceRequest.read system/Endpoint.write' })
  @IsOptional()
  @IsString()
  @Length(1, 2000)
  scope?: string;
}

export class FhirDestinationDto {
  @ApiProperty({ example: 'main-ehr' })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiProperty({ example: 'https://ehr.example/fhir/R4' })
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  baseUrl!: string;

  @ApiPropertyOptional({ type: FhirAuthDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => FhirAuthDto)
  auth?: FhirAuthDto;

  @ApiPropertyOptional({ description: 'FHIR identifier system per issuer of patient ID', example: { HOSP: 'urn:oid:1.2.3' } })
  @IsOptional()
  @IsObject()
  patientIdentifierSystems?: Record<string, string>;

  @ApiPropertyOptional({ default: false, description: 'create the Patient in the EHR when none carries the study\'s identifier' })
  @IsOptional()
  @IsBoolean()
  createPatients?: boolean;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

