import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { dataSourceOptions } from './data-source.js';

/** The PostgreSQL connection pool (TypeORM DataSource), shared by every repository. */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [VNA_CONFIG],
      useFactory: (config: VnaConfig) => ({
        ...dataSourceOptions({ url: config.database.url, poolSize: config.database.poolSize, applicationName: `vna-${config.nodeId}` }),
        autoLoadEntities: false,
        retryAttempts: 3,
        retryDelay: 1000,
      }),
    }),
  ],
})
export class PersistenceModule {}
