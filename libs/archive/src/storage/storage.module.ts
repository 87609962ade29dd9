import { Module } from '@nestjs/common';
import { ArchiveModule } from '../archive.module.js';
import { UploadService } from './upload.service.js';

/** Uploads this node's spool to the blob store: in every process that ingests (it owns its spool). */
@Module({ imports: [ArchiveModule], providers: [UploadService] })
export class SpoolUploadModule {}
