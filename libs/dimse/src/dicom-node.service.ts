import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { type DicomNodeSpec, isValidAeTitle, VNA_CONFIG, type VnaConfig } from '#vna/config';
import { interpretSpecificCharacterSet } from '#vna/dicom';

export interface DicomNode extends DicomNodeSpec {
  readonly description: string;
  /** The only character set the node accepts (Specific Character Set values); null: any (the archive's default applies). */
  readonly charset: readonly string[] | null;
  readonly source: 'config' | 'api';
  readonly createdAt: Date;
}

/** A node request the registry refuses; `kind` tells the edge which status to answer with. */
export class DicomNodeError extends Error {
  constructor(
    readonly kind: 'invalid' | 'not-found' | 'conflict',
    message: string,
  ) {
    super(message);
    this.name = 'DicomNodeError';
  }
}

const REFRESH_MS = 10_000;

/**
 * The DICOM peers the archive knows (AE title, host, port): from VNA_DICOM_NODES (re-read at each
 * start) and from the API. Used to accept associations (production) and to resolve C-MOVE destinations.
 */
@Injectable()
export class DicomNodeService implements OnModuleInit {
  private readonly logger = new Logger('DicomNodes');
  private cache = new Map<string, DicomNode>();
  private loadedAt = 0;

  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.db.transaction(async (tx) => {
      const aets = this.config.dicom.nodes.map((n) => n.aet);
      await tx.query(`DELETE FROM dicom_node WHERE source = 'config' AND NOT (aet = ANY($1::text[]))`, [aets]);
      for (const node of this.config.dicom.nodes) {
        await tx.query(
          `INSERT INTO dicom_node (aet, host, port, source, description) VALUES ($1, $2, $3, 'config', 'from VNA_DICOM_NODES')
           ON CONFLICT (aet) DO UPDATE SET host = excluded.host, port = excluded.port, source = 'config'`,
          [node.aet, node.host, node.port],
        );
      }
    });
    await this.reload();
    this.logger.log(`${this.cache.size} DICOM node(s) known`);
  }

  async list(): Promise<DicomNode[]> {
    await this.reload();
    return [...this.cache.values()].sort((a, b) => a.aet.localeCompare(b.aet));
  }

  /** A node by AE title (cached; other processes' changes are seen within seconds). */
  async find(aet: string): Promise<DicomNode | undefined> {
    if (Date.now() - this.loadedAt > REFRESH_MS) await this.reload().catch((e: Error) => this.logger.warn(`node reload failed: ${e.message}`));
    return this.cache.get(aet);
  }

  async add(spec: { aet: string; host: string; port: number; description?: string; charset?: string | null }): Promise<DicomNode> {
    if (!isValidAeTitle(spec.aet)) throw new DicomNodeError('invalid', 'aet must be 1-16 printable characters without backslash');
    if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) throw new DicomNodeError('invalid', 'port must be 1-65535');
    if (!spec.host || spec.host.length > 253 || /\s/.test(spec.host)) throw new DicomNodeError('invalid', 'host must be a host name or address');
    const charset = spec.charset === undefined || spec.charset === null ? null : parseCharset(spec.charset).join('\\');
    const rows = (await this.db.query(
      `INSERT INTO dicom_node (aet, host, port, description, source, charset) VALUES ($1, $2, $3, $4, 'api', $5) ON CONFLICT (aet) DO NOTHING RETURNING aet`,
      [spec.aet, spec.host, spec.port, spec.description ?? '', charset],
    )) as unknown[];
    if (rows.length === 0) throw new DicomNodeError('conflict', `a node with AE title ${spec.aet} exists`);
    await this.reload();
    return this.cache.get(spec.aet)!;
  }

  /** Sets (or clears, with null) the character set a node accepts; for nodes from the configuration too. */
  async setCharset(aet: string, charset: string | null): Promise<DicomNode> {
    const values = charset === null ? null : parseCharset(charset);
    const rows = (await this.db.query(`WITH u AS (UPDATE dicom_node SET charset = $2 WHERE aet = $1 RETURNING aet) SELECT aet FROM u`, [aet, values ? values.join('\\') : null])) as unknown[];
    if (rows.length === 0) throw new DicomNodeError('not-found', `no node with AE title ${aet}`);
    await this.reload();
    return this.cache.get(aet)!;
  }

  async remove(aet: string): Promise<void> {
    const node = (await this.list()).find((n) => n.aet === aet);
    if (!node) throw new DicomNodeError('not-found', `no node with AE title ${aet}`);
    if (node.source === 'config') throw new DicomNodeError('conflict', `${aet} comes from VNA_DICOM_NODES; change the configuration instead`);
    await this.db.query(`DELETE FROM dicom_node WHERE aet = $1`, [aet]);
    await this.reload();
  }

  private async reload(): Promise<void> {
    const rows = (await this.db.query(`SELECT aet, host, port, description, source, created_at, charset FROM dicom_node`)) as {
      aet: string;
      host: string;
      port: number;
      description: string;
      source: 'config' | 'api';
      created_at: Date;
      charset: string | null;
    }[];
    this.cache = new Map(
      rows.map((r) => [
        r.aet,
        { aet: r.aet, host: r.host, port: r.port, description: r.description, source: r.source, createdAt: r.created_at, charset: r.charset === null ? null : r.charset.split('\\') },
      ]),
    );
    this.loadedAt = Date.now();
  }
}

/** A Specific Character Set value as given (`ISO_IR 100`, `\ISO 2022 IR 87`): its defined terms, or a refusal naming the problem. */
function parseCharset(text: string): string[] {
  const values = text.split('\\').map((v) => v.trim());
  const cs = interpretSpecificCharacterSet(values);
  if (text.trim() === '' || cs.warnings.length > 0 || cs.terms.some((t) => t === undefined)) {
    throw new DicomNodeError('invalid', `charset "${text}" is not a Specific Character Set value (such as ISO_IR 192, ISO_IR 100, \\ISO 2022 IR 87)${cs.warnings.length ? `: ${cs.warnings.join('; ')}` : ''}`);
  }
  return values;
}
