import { Global, Logger, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { ApiKeyGuard } from './api-key.guard.js';
import { ApiKeyStore, ensureLocalApiKey } from './api-key.store.js';

/** API keys from VNA_API_KEYS; in the local profile without any, one admin key under VNA_DATA_DIR. */
@Global()
@Module({
  providers: [
    {
      provide: ApiKeyStore,
      inject: [VNA_CONFIG],
      useFactory: (config: VnaConfig): ApiKeyStore => {
        if (config.apiKeys.length > 0) return new ApiKeyStore(config.apiKeys);
        if (config.profile === 'production') {
          throw new Error('VNA_API_KEYS is required in production (name:role:secret, comma-separated)');
        }
        // Made (and printed) by the app's start-up before any worker runs; read here.
        const { key, path } = ensureLocalApiKey(config);
        new Logger('Auth').log(`using the local admin API key in ${path}`);
        return new ApiKeyStore([key]);
      },
    },
    { provide: APP_GUARD, useClass: ApiKeyGuard },
  ],
  exports: [ApiKeyStore],
})
export class AuthModule {}
