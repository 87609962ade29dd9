import { Client, type Connection, isKnownVersion, Message } from 'node-hl7-client';

export interface Hl7Delivery {
  readonly host: string;
  readonly port: number;
  /** The message, segments ended by CR. */
  readonly text: string;
  /** How the text becomes bytes: 'latin1' sends stored bytes unchanged (they were read as latin1), 'utf8' for UTF-8. */
  readonly encoding: 'latin1' | 'utf8';
  /** The whole attempt (connect, send, ACK) must finish within this. */
  readonly timeoutMs: number;
}

/** An attempt that did not end in AA (or CA): the outbox job fails and BullMQ retries it with backoff. */
export class Hl7DeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Hl7DeliveryError';
  }
}

/** MSH-12 of a message's text (the MSH is ASCII in every supported character set). */
export function versionOf(text: string): string {
  const msh = text.slice(0, text.search(/[\r\n]|$/));
  const field = msh[3] ?? '|';
  const component = msh[4] ?? '^';
  return (msh.split(field)[11] ?? '').split(component)[0]!.trim();
}

/**
 * Sends one message over MLLP with node-hl7-client's Client and waits for its ACK (original
 * mode): resolves with MSA-1 when it is AA or CA, throws Hl7DeliveryError otherwise (refused
 * connection, no ACK in time, AE/AR). One connection per attempt: the outbox's retries and
 * backoff decide when to try again, not the client's own reconnect loop.
 */
export async function deliverHl7(d: Hl7Delivery): Promise<string> {
  const version = versionOf(d.text);
  if (!isKnownVersion(version)) throw new Hl7DeliveryError(`HL7 version "${version}" (MSH-12) cannot be sent`);
  const client = new Client({
    host: d.host,
    version,
    // A positive timeout makes the client report a refused or dropped connection (client.error) at once.
    connectionTimeout: Math.min(60_000, d.timeoutMs),
    maxConnectionAttempts: 1,
    retryLow: d.timeoutMs,
    retryHigh: d.timeoutMs,
  });
  let connection: Connection | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<string>((resolve, reject) => {
      timer = setTimeout(() => reject(new Hl7DeliveryError(`no ACK from ${d.host}:${d.port} within ${d.timeoutMs} ms`)), d.timeoutMs);
      connection = client.createConnection({ port: d.port, version, encoding: d.encoding, waitAck: true, maxConnectionAttempts: 1, maxAttempts: 1 }, (response) => {
        const ack = response.getMessage();
        const code = ack.get('MSA.1').toString().trim();
        if (code === 'AA' || code === 'CA') resolve(code);
        else reject(new Hl7DeliveryError(`${d.host}:${d.port} answered ${code || 'without MSA-1'}: ${ack.get('MSA.3').toString() || ack.get('ERR.8').toString() || 'no reason given'}`));
      });
      connection.on('client.error', (e: unknown) => reject(new Hl7DeliveryError(`${d.host}:${d.port}: ${e instanceof Error ? e.message : String(e)}`)));
      connection.sendMessage(new Message({ text: d.text })).catch((e: Error) => reject(new Hl7DeliveryError(`sending to ${d.host}:${d.port}: ${e.message}`)));
    });
  } finally {
    if (timer) clearTimeout(timer);
    await connection?.close().catch(() => undefined);
    client.closeAll();
  }
}
