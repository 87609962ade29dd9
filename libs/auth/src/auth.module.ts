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
        const { key, created, path } = ensureLocalApiKey(config);
        const logger = new Logger('Auth');
        // The key is printed so that the person who ran `npm start` can use it; it is theirs, on their machine.
        logger.log(`${created ? 'created' : 'using'} the local admin API key in ${path}`);
        process.stdout.write(`\nAPI key (admin): ${key.secret}\n  e.g. curl -H 'Authorization: Bearer ${key.secret}' http://${config.bind}:${config.http.port}/dicomweb/studies\n\n`);
        return new ApiKeyStore([key]);
      },
    },
    { provide: APP_GUARD, useClass: ApiKeyGuard },
  ],
  exports: [ApiKeyStore],
})
export class AuthModule {}
