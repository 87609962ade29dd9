import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { type Hl7Handler, Hl7ErrorCode, type Hl7HandlerContext, Hl7HandlerRegistry, type Hl7HandlerResult, type Hl7Message, Hl7ProcessingError } from '#vna/hl7';
import { IDENTITY_SETTINGS, type IdentitySettings } from '../identity-settings.js';
import { IdentityError, type IdentityErrorCode } from '../identity.errors.js';
import type { SuspicionCode } from '../merges/merge.model.js';
import { MergeService } from '../merges/merge.service.js';
import { Hl7OutboundService } from '../orders/hl7-outbound.service.js';
import type { ChangeAudit } from '../registry/registry.model.js';
import { RegistryService } from '../registry/registry.service.js';
import { mergeCommands, patientCommand } from './adt-message.parser.js';

/** ADT events that create or update a patient (HL7 2.5.1 3.3.1, 3.3.4, 3.3.5, 3.3.8, 3.3.28, 3.3.31). */
export const ADT_UPDATE_EVENTS = ['ADT^A01', 'ADT^A04', 'ADT^A05', 'ADT^A08', 'ADT^A28', 'ADT^A31'] as const;

/** Table 0357 code for each suspicion, when the policy is to reject (AE). */
const SUSPICION_ERR: Record<SuspicionCode, string> = {
  'self-merge': Hl7ErrorCode.DuplicateKeyIdentifier,
  'prior-unknown': Hl7ErrorCode.UnknownKeyIdentifier,
  'prior-merged': Hl7ErrorCode.ApplicationRecordLocked,
  inverse: Hl7ErrorCode.ApplicationRecordLocked,
  duplicate: Hl7ErrorCode.DuplicateKeyIdentifier,
  'survivor-merged': Hl7ErrorCode.ApplicationRecordLocked,
  'ambiguous-survivor': Hl7ErrorCode.DuplicateKeyIdentifier,
  'identifier-taken': Hl7ErrorCode.DuplicateKeyIdentifier,
  'prior-replaced': Hl7ErrorCode.ApplicationRecordLocked,
};

const REGISTRY_ERR: Record<IdentityErrorCode, string> = {
  'identifier-merged': Hl7ErrorCode.ApplicationRecordLocked,
  'identifier-replaced': Hl7ErrorCode.ApplicationRecordLocked,
  'identifiers-ambiguous': Hl7ErrorCode.DuplicateKeyIdentifier,
};

/**
 * The ADT edge: parses PID/MRG into registry commands and hands them to the registry and merge
 * services, inside the message's transaction (the listener commits, then sends the ACK). Logic
 * lives in the services; this maps their refusals to AE with an ERR segment.
 */
@Injectable()
export class AdtHandlers implements OnModuleInit {
  private readonly logger = new Logger('ADT');

  constructor(
    private readonly handlers: Hl7HandlerRegistry,
    private readonly registry: RegistryService,
    private readonly merges: MergeService,
    private readonly outbound: Hl7OutboundService,
    @Inject(IDENTITY_SETTINGS) private readonly settings: IdentitySettings,
  ) {}

  onModuleInit(): void {
    this.handlers.register(ADT_UPDATE_EVENTS, this.forwarded((message, context) => this.patientUpdate(message, context)));
    this.handlers.register(['ADT^A40'], this.forwarded((message, context) => this.merge(message, context, 'merge')));
    this.handlers.register(['ADT^A47'], this.forwarded((message, context) => this.merge(message, context, 'change-identifier')));
  }

  /** Applied messages go on to the downstream systems whose VNA_HL7_FORWARD rules match, through the outbox. */
  private forwarded(handle: (message: Hl7Message, context: Hl7HandlerContext) => Promise<Hl7HandlerResult>): Hl7Handler {
    return async (message, context) => {
      const result = await handle(message, context);
      const forwarded = await this.outbound.enqueueForward(context.tx, message, context.messageId);
      return forwarded ? { ...result, note: `${result.note ?? ''}; forwarded to ${forwarded}` } : result;
    };
  }

  async patientUpdate(message: Hl7Message, context: Hl7HandlerContext): Promise<Hl7HandlerResult> {
    const command = patientCommand(message.segment('PID'), this.settings.defaultIssuer);
    try {
      const outcome = await this.registry.createOrUpdate(context.tx, command, audit(message, context));
      const what = outcome.created ? 'created' : outcome.changed ? 'updated' : 'unchanged';
      return {
        patientIds: command.identifiers.map((i) => i.patientId),
        note: `registry patient ${outcome.registryPatientId} ${what}; ${outcome.rows.length} index patient row(s) changed`,
      };
    } catch (e) {
      if (e instanceof IdentityError && e.code) throw new Hl7ProcessingError('AE', REGISTRY_ERR[e.code], e.message, 'PID^1^3');
      throw e;
    }
  }

  async merge(message: Hl7Message, context: Hl7HandlerContext, kind: 'merge' | 'change-identifier'): Promise<Hl7HandlerResult> {
    const commands = mergeCommands(message, kind, this.settings.defaultIssuer);
    const notes: string[] = [];
    for (const [n, command] of commands.entries()) {
      const outcome = await this.merges.request(context.tx, command, audit(message, context));
      switch (outcome.kind) {
        case 'refused':
          // Policy `reject`: the whole message is refused and nothing of it is kept (the listener rolls back).
          throw new Hl7ProcessingError('AE', SUSPICION_ERR[outcome.suspicion.code], `${outcome.suspicion.text} (${outcome.suspicion.code}); nothing was changed`, `MRG^${n + 1}^1`);
        case 'held':
          this.logger.log(`HL7 ${message.messageType}^${message.triggerEvent} ${message.controlId}: ${kind} ${outcome.mergeId} held for review (${outcome.suspicion.code}), task ${outcome.taskId}`);
          notes.push(`${kind} ${outcome.mergeId} held for review (${outcome.suspicion.code}: ${outcome.suspicion.text}), task ${outcome.taskId}`);
          break;
        case 'applied':
          notes.push(`${kind} ${outcome.mergeId} applied; ${outcome.rows} index patient row(s) changed`);
          break;
      }
    }
    return {
      patientIds: commands.flatMap((c) => [...c.surviving.identifiers.map((i) => i.patientId), c.prior.patientId]),
      note: notes.join('; '),
    };
  }
}

function audit(message: Hl7Message, context: Hl7HandlerContext): ChangeAudit {
  return { actor: context.actor, hl7MessageId: context.messageId, reason: `${message.messageType}^${message.triggerEvent} ${message.controlId}` };
}
