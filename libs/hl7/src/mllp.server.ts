import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { ackControlId, buildAck } from './hl7-ack.js';
import { Hl7ErrorCode } from './hl7-handler.js';
import { type InboundAnswer, Hl7InboundService } from './hl7-inbound.service.js';
import { Hl7Metrics } from './hl7-metrics.js';
import { parseHl7 } from './hl7-parser.js';
import { type MllpDiscard, type MllpEvent, MllpFramer, mllpFrame } from './mllp-framer.js';

/** Frames read ahead of the one being processed before the socket is paused (a sender that does not wait for ACKs). */
const MAX_QUEUED_FRAMES = 16;

interface Connection {
  readonly socket: Socket;
  readonly peer: string;
  readonly framer: MllpFramer;
  readonly queue: { readonly event: MllpEvent; readonly at: number }[];
  busy: boolean;
  closing: boolean;
  frameTimer?: NodeJS.Timeout;
}

/**
 * The MLLP listener (VNA_BIND:VNA_HL7_PORT, TLS when VNA_HL7_TLS_CERT/KEY are set), written on
 * `net`/`tls` rather than node-hl7-server (which re-processes earlier messages on a kept-open
 * connection). Each connection's frames are handled strictly one after another: a message's ACK
 * is written before the next message is looked at, so a sender's order is the archive's order.
 * Bad framing never ends the listener: bytes outside frames and frames cut off by a new VT are
 * discarded (and logged), a frame that stops arriving (no byte for VNA_HL7_FRAME_TIMEOUT_SECONDS)
 * is discarded, and a frame over VNA_HL7_MAX_MESSAGE_BYTES gets AR and the connection closed.
 */
@Injectable()
export class MllpServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('MLLP');
  private server?: Server;
  private readonly connections = new Set<Connection>();

  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly inbound: Hl7InboundService,
    private readonly metrics: Hl7Metrics,
  ) {}

  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : this.config.hl7.port;
  }

  async onApplicationBootstrap(): Promise<void> {
    const tls = this.config.hl7.tls;
    if (tls) {
      const ca = tls.caFile ? readFileSync(tls.caFile) : undefined;
      const server = createTlsServer(
        { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile), ca, requestCert: ca !== undefined, rejectUnauthorized: ca !== undefined },
        (socket) => this.accept(socket),
      );
      server.on('tlsClientError', (e, socket) => this.logger.warn(`TLS handshake with ${socket.remoteAddress}:${socket.remotePort} failed: ${e.message}`));
      this.server = server;
    } else {
      this.server = createServer((socket) => this.accept(socket));
    }
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.config.hl7.port, this.config.bind, () => resolve());
    });
    this.logger.log(`HL7 MLLP${tls ? ' over TLS' : ''} listening on ${this.config.bind}:${this.port}`);
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    const connection: Connection = {
      socket,
      peer: `${socket.remoteAddress}:${socket.remotePort}`,
      framer: new MllpFramer(this.config.hl7.maxMessageBytes),
      queue: [],
      busy: false,
      closing: false,
    };
    this.connections.add(connection);
    this.metrics.connections.inc();
    this.logger.debug(`MLLP connection from ${connection.peer}`);
    socket.on('data', (chunk: Buffer) => {
      if (connection.closing) return;
      const at = performance.now();
      for (const event of connection.framer.push(chunk)) connection.queue.push({ event, at });
      this.armFrameTimer(connection);
      if (connection.queue.length >= MAX_QUEUED_FRAMES) socket.pause();
      void this.drain(connection);
    });
    socket.on('error', (e) => this.logger.debug(`MLLP connection from ${connection.peer}: ${e.message}`));
    socket.on('close', () => {
      this.connections.delete(connection);
      this.metrics.connections.dec();
      clearTimeout(connection.frameTimer);
      const open = connection.framer.abandon('unterminated');
      if (open) this.discarded(connection, open);
      const garbage = connection.framer.takeGarbage();
      if (garbage) this.discarded(connection, garbage);
    });
  }

  /** A frame begun and not ended in time is dropped; the connection stays open for the next one. */
  private armFrameTimer(connection: Connection): void {
    clearTimeout(connection.frameTimer);
    if (!connection.framer.inFrame) return;
    connection.frameTimer = setTimeout(() => {
      const dropped = connection.framer.abandon('timeout');
      if (dropped) this.discarded(connection, dropped);
    }, this.config.hl7.frameTimeoutMs);
    connection.frameTimer.unref();
  }

  /** Handles the connection's queued events one at a time, in order. */
  private async drain(connection: Connection): Promise<void> {
    if (connection.busy) return;
    connection.busy = true;
    try {
      for (;;) {
        const next = connection.queue.shift();
        if (!next) break;
        if (connection.queue.length < MAX_QUEUED_FRAMES / 2 && connection.socket.isPaused() && !connection.closing) connection.socket.resume();
        const { event, at } = next;
        if (event.kind === 'discarded') {
          this.discarded(connection, event);
        } else if (event.kind === 'frame') {
          const answer = await this.inbound.receive({ payload: event.payload, receivedAt: new Date(), peer: connection.peer });
          await this.send(connection, answer, at);
        } else {
          await this.oversized(connection, event.head, event.bytes, at);
          return;
        }
      }
    } catch (e) {
      // receive() answers every error itself; this is the socket failing under us.
      this.logger.warn(`MLLP connection from ${connection.peer}: ${(e as Error).message}`);
      connection.socket.destroy();
    } finally {
      connection.busy = false;
    }
  }

  private async send(connection: Connection, answer: InboundAnswer, at: number): Promise<void> {
    const socket = connection.socket;
    if (socket.destroyed || !socket.writable) {
      // The sender left before its answer: it was committed, and a copy sent again gets it.
      this.logger.log(`MLLP connection from ${connection.peer} closed before its ACK (${answer.status}) could be sent`);
    } else {
      await new Promise<void>((resolve) => socket.write(mllpFrame(answer.ack), () => resolve()));
    }
    this.metrics.messages.inc({ type: answer.metricType, status: answer.status });
    this.metrics.ackSeconds.observe({ status: answer.status }, (performance.now() - at) / 1000);
  }

  /** AR (addressed to the message when its MSH is within the head), then the connection is closed: the rest is not processed. */
  private async oversized(connection: Connection, head: Buffer, bytes: number, at: number): Promise<void> {
    connection.closing = true;
    connection.queue.length = 0;
    connection.socket.pause();
    this.metrics.discarded.inc({ reason: 'oversized' });
    const parsed = parseHl7(head);
    const header = parsed.header;
    this.logger.warn(
      `MLLP frame from ${connection.peer} over VNA_HL7_MAX_MESSAGE_BYTES (${bytes} bytes read, limit ${this.config.hl7.maxMessageBytes}): AR, connection closed; control id ${header.fields[10] ?? 'unreadable'}`,
    );
    const text = `the message is larger than this archive takes (${this.config.hl7.maxMessageBytes} bytes); nothing was applied`;
    const ack = buildAck({ header, code: 'AR', error: { code: Hl7ErrorCode.ApplicationInternalError, text }, controlId: ackControlId(), now: new Date() });
    await this.send(connection, { ack: ack.bytes, status: 'AR', metricType: 'none', duplicate: false }, at);
    // A lingering close, as web servers do: the AR and a FIN go out, and what the sender still sends
    // is read and dropped until it closes too (or 2 s pass). Destroying the socket with unread data
    // would reset the connection, and a reset can take the AR with it before the sender reads it.
    const socket = connection.socket;
    const destroy = setTimeout(() => socket.destroy(), 2000);
    destroy.unref();
    socket.once('close', () => clearTimeout(destroy));
    socket.end();
    socket.resume();
  }

  private discarded(connection: Connection, event: MllpDiscard): void {
    this.metrics.discarded.inc({ reason: event.reason });
    const what = {
      'outside-frame': 'outside any MLLP frame (no VT before them)',
      unterminated: 'of a frame that was never ended (no FS before the next VT or the end of the connection)',
      timeout: `of a frame that stopped arriving (nothing for ${this.config.hl7.frameTimeoutMs / 1000} s, no FS)`,
    }[event.reason];
    this.logger.warn(`MLLP connection from ${connection.peer}: discarded ${event.bytes} bytes ${what}`);
  }

  /**
   * Stops accepting and reading; messages already read get up to 10 s to be answered, then the
   * connections are closed. Before shutdown proper, while the database pool is still open.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.server) return;
    const closed = new Promise<void>((resolve) => this.server!.close(() => resolve()));
    for (const c of this.connections) {
      c.closing = true;
      c.socket.pause();
    }
    const deadline = Date.now() + 10_000;
    while ([...this.connections].some((c) => c.busy) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const c of this.connections) c.socket.destroy();
    await closed;
  }
}
