import { createServer, type Server, type Socket } from 'node:net';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { DicomNodeService } from './dicom-node.service.js';
import { DimseService } from './dimse.service.js';
import { createScpClass } from './vna-scp.js';

/**
 * The DICOM listener (VNA_BIND:VNA_DICOM_PORT, AE VNA_DICOM_AET). A plain net.Server rather than
 * dcmjs-dimse's Server, which cannot bind an address or set TCP_NODELAY.
 */
@Injectable()
export class DimseServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('DIMSE');
  private server?: Server;
  private readonly sockets = new Set<Socket>();

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
    const ScpClass = createScpClass(this.dimse, allowed);
    const options = {
      associationTimeout: this.config.dicom.associationTimeoutMs,
      pduTimeout: this.config.dicom.pduTimeoutMs,
      connectTimeout: this.config.dicom.associationTimeoutMs,
    };
    this.server = createServer((socket) => {
      socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      const scp = new ScpClass(socket, options);
      (scp as unknown as { connected: boolean }).connected = true;
      scp.on('networkError', (e: Error) => {
        this.logger.warn(`association error: ${e.message}`);
        socket.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.config.dicom.port, this.config.bind, () => resolve());
    });
    this.logger.log(`DICOM listening on ${this.config.bind}:${this.port} as ${this.config.dicom.aet}`);
  }

  /** Stops accepting; associations in progress get up to 30 s to finish before they are cut. */
  async onApplicationShutdown(): Promise<void> {
    if (!this.server) return;
    const closed = new Promise<void>((resolve) => this.server!.close(() => resolve()));
    const deadline = Date.now() + 30_000;
    while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}
