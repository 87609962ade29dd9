import { Module } from '@nestjs/common';
import { ArchiveModule } from '#vna/archive';
import { OrdersModule } from '#vna/identity';
import { DicomNodeService } from './dicom-node.service.js';
import { DicomNodesController } from './dicom-nodes.controller.js';
import { DimseServer } from './dimse.server.js';
import { DimseService } from './dimse.service.js';

/** The registry of known DICOM peers, one instance per process. */
@Module({ providers: [DicomNodeService], exports: [DicomNodeService] })
export class DicomNodeRegistryModule {}

/** The DIMSE SCP (C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET, Modality Worklist C-FIND from the orders). */
@Module({
  imports: [ArchiveModule, DicomNodeRegistryModule, OrdersModule],
  providers: [DimseServer, DimseService],
})
export class DimseModule {}

/** /api/v1/dicom-nodes, for whichever app serves the administration API. */
@Module({ imports: [DicomNodeRegistryModule], controllers: [DicomNodesController] })
export class DicomNodesModule {}
