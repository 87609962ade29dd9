import { Module } from '@nestjs/common';
import { ArchiveModule } from '#vna/archive';
import { DicomwebController } from './dicomweb.controller.js';
import { QidoService } from './qido.service.js';
import { StowService } from './stow.service.js';
import { WadoService } from './wado.service.js';

@Module({
  imports: [ArchiveModule],
  controllers: [DicomwebController],
  providers: [StowService, QidoService, WadoService],
})
export class DicomwebModule {}
