import { Global, Module } from '@nestjs/common';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { AzureBlobStore } from './azure-blob.store.js';
import { BlobStore } from './blob.store.js';

@Global()
@Module({
  providers: [
    {
      provide: BlobStore,
      inject: [VNA_CONFIG],
      useFactory: (config: VnaConfig): BlobStore => new AzureBlobStore(config.blob.connectionString, config.blob.container),
    },
  ],
  exports: [BlobStore],
})
export class BlobModule {}
