import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { RequireRole } from '#vna/auth';
import { type DicomNode, DicomNodeService } from './dicom-node.service.js';

export class CreateDicomNodeDto {
  @ApiProperty({ example: 'PACS1' })
  @IsString()
  @Length(1, 16)
  aet!: string;

  @ApiProperty({ example: '10.0.0.5' })
  @IsString()
  @Length(1, 253)
  host!: string;

  @ApiProperty({ example: 104 })
  @IsInt()
  @Min(1)
  @Max(65535)
  port!: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(0, 200)
  description?: string;

  @ApiPropertyOptional({ description: 'the only character set the node accepts: every header sent to it is written in it (UTF-8 when the text cannot be)', example: 'ISO_IR 100' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  charset?: string;
}

export class DicomNodeCharsetDto {
  @ApiProperty({ description: 'Specific Character Set values, backslash-separated; null: any (the archive default applies)', example: 'ISO_IR 100', nullable: true, type: String })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  charset!: string | null;
}

/** The DICOM peers: who may associate (production) and where C-MOVE may send. */
@ApiTags('DICOM nodes')
@ApiBearerAuth()
@Controller('api/v1/dicom-nodes')
export class DicomNodesController {
  constructor(private readonly nodes: DicomNodeService) {}

  @Get()
  list(): Promise<DicomNode[]> {
    return this.nodes.list();
  }

  @Post()
  @RequireRole('admin')
  add(@Body() body: CreateDicomNodeDto): Promise<DicomNode> {
    return this.nodes.add(body);
  }

  @Put(':aet/charset')
  @RequireRole('admin')
  setCharset(@Param('aet') aet: string, @Body() body: DicomNodeCharsetDto): Promise<DicomNode> {
    return this.nodes.setCharset(aet, body.charset ?? null);
  }

  @Delete(':aet')
  @HttpCode(204)
  @RequireRole('admin')
  remove(@Param('aet') aet: string): Promise<void> {
    return this.nodes.remove(aet);
  }
}
