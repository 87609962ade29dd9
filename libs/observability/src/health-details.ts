import { Injectable } from '@nestjs/common';

/** Answers a degradation's description, or undefined when all is well. */
export type DegradationProbe = () => Promise<string | undefined>;

/**
 * Conditions that do not make the process unready but that an operator must see (a feature the
 * blob store lacks, say): reported by /health/ready as `degraded` checks, never hidden. Probes
 * read shared state (the database), so every process of a cluster answers the same.
 */
@Injectable()
export class HealthDetails {
  private readonly probes = new Map<string, DegradationProbe>();

  register(name: string, probe: DegradationProbe): void {
    this.probes.set(name, probe);
  }

  async all(): Promise<Record<string, { status: 'degraded'; detail: string }>> {
    const out: Record<string, { status: 'degraded'; detail: string }> = {};
    for (const [name, probe] of this.probes) {
      const detail = await probe().catch((e: Error) => `could not be checked: ${e.message}`);
      if (detail) out[name] = { status: 'degraded', detail };
    }
    return out;
  }
}
