import { type DynamicModule, Global, Module } from '@nestjs/common';
import { loadConfig, type VnaConfig } from './vna-config.js';

/** The injection token for the validated configuration: `@Inject(VNA_CONFIG) config: VnaConfig`. */
export const VNA_CONFIG = Symbol('VNA_CONFIG');

@Global()
@Module({})
export class ConfigModule {
  /** Reads the environment once, at start-up; a bad variable stops the process with its name. */
  static forRoot(): DynamicModule {
    return ConfigModule.with(loadConfig(process.env));
  }

  /** A configuration built elsewhere (tests, tools). */
  static with(config: VnaConfig): DynamicModule {
    return { module: ConfigModule, global: true, providers: [{ provide: VNA_CONFIG, useValue: config }], exports: [VNA_CONFIG] };
  }
}
