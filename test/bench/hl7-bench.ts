/**
 * The HL7 figures of `npm run bench` (issue 3, "Benchmark"): ADT^A08 over one kept-open MLLP
 * connection and over several, each message sent after the previous one's ACK (the way an interface
 * engine sends in original mode), and the time to merge a patient with many instances (A40 sent to
 * its ACK: the merge commits before the ACK goes out).
 */
import { hl7, MllpClient } from '../support/mllp.js';

export interface AdtRun {
  readonly messages: number;
  readonly seconds: number;
  /** Per message, send to ACK, in milliseconds. */
  readonly latenciesMs: readonly number[];
  readonly rejected: number;
}

function msh(type: string, controlId: string): string {
  return `MSH|^~\\&|BENCHRIS|NORTHSIDE|VNA|ARCHIVE|20241115083000||${type}|${controlId}|P|2.5.1|||AL|NE||UNICODE UTF-8`;
}

export function adt(trigger: 'A01' | 'A08' | 'A04', controlId: string, patientId: string, name: string): string {
  return hl7(msh(`ADT^${trigger}^ADT_A01`, controlId), `EVN|${trigger}|20241115083000`, `PID|1||${patientId}^^^NORTHSIDE^MR||${name}||19800214|F`, 'PV1|1|O');
}

export function a40(controlId: string, survivingId: string, priorId: string): string {
  return hl7(msh('ADT^A40^ADT_A39', controlId), 'EVN|A40|20241115083000', `PID|1||${survivingId}^^^NORTHSIDE^MR||Survivor^Bench||19800214|F`, `MRG|${priorId}^^^NORTHSIDE^MR`);
}

/** Admits `patients` patients (not timed), so that the A08s below update known records. */
export async function admitPatients(port: number, prefix: string, patients: number): Promise<void> {
  const client = await MllpClient.connect(port);
  try {
    for (let i = 0; i < patients; i++) {
      const ack = await client.request(adt('A01', `${prefix}-A01-${i}`, `${prefix}${i}`, `Bench^Patient${i}`));
      if (ack.code !== 'AA') throw new Error(`A01 ${i}: ${ack.code} ${ack.error?.text ?? ''}`);
    }
  } finally {
    await client.close();
  }
}

/** A08s on `connections` connections at once, `perConnection` each, updating the admitted patients in turn. */
export async function a08Run(port: number, prefix: string, patients: number, connections: number, perConnection: number, runId: string): Promise<AdtRun> {
  const clients = await Promise.all(Array.from({ length: connections }, () => MllpClient.connect(port)));
  const latencies: number[] = [];
  let rejected = 0;
  const t0 = performance.now();
  try {
    await Promise.all(
      clients.map(async (client, c) => {
        for (let i = 0; i < perConnection; i++) {
          const n = c * perConnection + i;
          const message = adt('A08', `${prefix}-${runId}-${c}-${i}`, `${prefix}${n % patients}`, `Bench^Patient${n % patients}^${runId}${i % 10}`);
          const sent = performance.now();
          const ack = await client.request(message);
          latencies.push(performance.now() - sent);
          if (ack.code !== 'AA') rejected++;
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
  return { messages: connections * perConnection, seconds: (performance.now() - t0) / 1000, latenciesMs: latencies, rejected };
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** One A40, send to ACK, in seconds; throws unless it is accepted. */
export async function timeMerge(port: number, controlId: string, survivingId: string, priorId: string): Promise<number> {
  const client = await MllpClient.connect(port);
  try {
    const t0 = performance.now();
    const ack = await client.request(a40(controlId, survivingId, priorId), 120_000);
    const seconds = (performance.now() - t0) / 1000;
    if (ack.code !== 'AA') throw new Error(`A40: ${ack.code} ${ack.error?.text ?? ''}`);
    return seconds;
  } finally {
    await client.close();
  }
}
