import { createServer, type Server, type Socket } from 'node:net';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { abortPdu, AssociationGuard, type GuardLimits, type GuardViolation, PDATA_SLACK } from './association-guard.js';
import { setMaxReceivePduLength } from './dcmjs-dimse.js';
import { DicomNodeService } from './dicom-node.service.js';
import { DimseService } from './dimse.service.js';
import { PduFramer } from './pdu-framer.js';
import { createScpClass } from './vna-scp.js';

interface Connection {
  readonly guard: AssociationGuard;
  readonly peer: string;
  readonly callingAet: () => string;
}

/** The largest PDU other than P-DATA-TF taken (an A-ASSOCIATE-RQ with every storage class fits in a few KiB). */
const MAX_OTHER_PDU = 64 * 1024;

/**
 * The DICOM listener (VNA_BIND:VNA_DICOM_PORT, AE VNA_DICOM_AET). A plain net.Server rather than
 * dcmjs-dimse's Server, which cannot bind an address or set TCP_NODELAY. Each connection's bytes
 * pass an AssociationGuard before the library sees them: PDU size limits and the association
 * and idle timeouts live there.
 */
@Injectable()
export class DimseServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('DIMSE');
  private server?: Server;
  private ticker?: NodeJS.Timeout;
  private readonly connections = new Map<Socket, Connection>();

  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly dimse: DimseService,
    private readonly nodes: DicomNodeService,
  ) {}

  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : this.config.dicom.port;
  }

  async onApplicationBootstrap(): Promise<void> {
    const production = this.config.profile === 'production';
    const allowed = async (aet: string): Promise<boolean> => {
      if (await this.nodes.find(aet)) return true;
      if (production) return false;
      this.logger.warn(`accepting unknown calling AE ${aet} (local profile; production rejects it)`);
      return true;
    };
    // What the archive advertises in A-ASSOCIATE-AC (and -RQ, as an SCU) is what the guard enforces.
    setMaxReceivePduLength(this.config.dicom.maxPduLength);
    const limits: GuardLimits = {
      maxPDataLength: this.config.dicom.maxPduLength + PDATA_SLACK,
      maxOtherLength: MAX_OTHER_PDU,
      associationTimeoutMs: this.config.dicom.associationTimeoutMs,
      idleTimeoutMs: this.config.dicom.pduTimeoutMs,
    };
    const ScpClass = createScpClass(this.dimse, allowed);
    this.server = createServer((socket) => {
      socket.setNoDelay(true);
      const guard = new AssociationGuard(limits, Date.now());
      const scp = new ScpClass(socket, {}, guard);
      (scp as unknown as { connected: boolean }).connected = true;
      const connection: Connection = { guard, peer: `${socket.remoteAddress}:${socket.remotePort}`, callingAet: () => scp.peerAet };
      this.connections.set(socket, connection);
      socket.on('close', () => this.connections.delete(socket));
      scp.on('networkError', (e: Error) => {
        this.logger.warn(`association error: ${e.message}`);
        socket.destroy();
      });
      // The guard reads the bytes first; the library gets only what passed it, one whole PDU at a time.
      const library = socket.listeners('data') as ((chunk: Buffer) => void)[];
      socket.removeAllListeners('data');
      const framer = new PduFramer((pdu) => {
        for (const listener of library) listener.call(socket, pdu);
      });
      socket.on('data', (chunk: Buffer) => {
        const violation = guard.received(chunk, Date.now());
        if (violation) return this.refuse(socket, connection, violation);
        framer.push(chunk);
      });
    });
    this.ticker = setInterval(() => {
      const now = Date.now();
      for (const [socket, connection] of this.connections) {
        const violation = connection.guard.tick(now, socket.isPaused());
        if (violation) this.refuse(socket, connection, violation);
      }
    }, 1000);
    this.ticker.unref();
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.config.dicom.port, this.config.bind, () => resolve());
    });
    this.logger.log(`DICOM listening on ${this.config.bind}:${this.port} as ${this.config.dicom.aet}`);
  }

  /** Stops reading, sends an A-ABORT when the guard asks for one, and closes (destroyed if the peer lingers). */
  private refuse(socket: Socket, connection: Connection, violation: GuardViolation): void {
    this.logger.warn(`closing DICOM connection from ${connection.peer} (calling AE ${connection.callingAet() || 'unknown'}): ${violation.detail}`);
    this.connections.delete(socket);
    socket.pause();
    const destroy = setTimeout(() => socket.destroy(), 1000);
    destroy.unref();
    if (violation.abortReason !== undefined && socket.writable) socket.end(abortPdu(violation.abortReason), () => socket.destroy());
    else socket.destroy();
  }

  /** Stops accepting; associations in progress get up to 30 s to finish before they are cut. */
  async onApplicationShutdown(): Promise<void> {
    if (!this.server) return;
    const closed = new Promise<void>((resolve) => this.server!.close(() => resolve()));
    const deadline = Date.now() + 30_000;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const socket of this.connections.keys()) socket.destroy();
    if (this.ticker) clearInterval(this.ticker);
    await closed;
  }
}
