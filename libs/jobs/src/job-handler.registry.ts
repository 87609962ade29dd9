import { Injectable } from '@nestjs/common';

export type JobHandler = (payload: Record<string, unknown>) => Promise<void>;

/**
 * Handlers by topic. A feature registers its handler (in onModuleInit) and producers only name the
 * topic, so features never call each other (immich's @OnJob idea, without the discovery magic).
 */
@Injectable()
export class JobHandlerRegistry {
  private readonly handlers = new Map<string, JobHandler>();

  register(topic: string, handler: JobHandler): void {
    if (this.handlers.has(topic)) throw new Error(`a handler for job topic "${topic}" is already registered`);
    this.handlers.set(topic, handler);
  }

  get(topic: string): JobHandler | undefined {
    return this.handlers.get(topic);
  }
}
