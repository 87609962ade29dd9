import { describe, expect, it } from '@jest/globals';
import dimse from 'dcmjs-dimse';
import { encodeCommand } from './command-encoder.js';

// dcmjs-dimse itself, not the archive's patched re-export: its own encoder is the reference.
const lib = dimse as unknown as typeof import('dcmjs-dimse');

function dcmjsBytes(elements: Record<string, unknown>): Buffer {
  return Buffer.from(new lib.Dataset(elements).getDenaturalizedCommandDataset());
}

const CT = '1.2.840.10008.5.1.4.1.1.2';

describe('encodeCommand', () => {
  const commands: [string, Record<string, unknown>][] = [
    ['C-STORE-RSP success (odd-length UIDs)', { CommandField: 0x8001, CommandDataSetType: 0x0101, Status: 0, ErrorComment: undefined, AffectedSOPClassUID: CT, MessageIDBeingRespondedTo: 7, AffectedSOPInstanceUID: '1.2.3.4.5' }],
    ['C-STORE-RSP failure with a comment', { CommandField: 0x8001, CommandDataSetType: 0x0101, Status: 0xa900, ErrorComment: 'SOP Class UID differs', AffectedSOPClassUID: CT, MessageIDBeingRespondedTo: 65535, AffectedSOPInstanceUID: '1.2.3.4.56' }],
    ['an odd-length comment', { CommandField: 0x8001, Status: 0xc000, ErrorComment: 'abc' }],
    ['an empty comment', { CommandField: 0x8001, Status: 0xc000, ErrorComment: '' }],
    ['C-ECHO-RQ', { CommandField: 0x0030, MessageID: 1, CommandDataSetType: 0x0101, AffectedSOPClassUID: '1.2.840.10008.1.1' }],
    ['C-MOVE-RQ with a destination', { CommandField: 0x0021, MessageID: 3, Priority: 0, CommandDataSetType: 0x0001, AffectedSOPClassUID: '1.2.840.10008.5.1.4.1.2.2.2', MoveDestination: 'STORESCP ' }],
    ['C-MOVE-RSP with counts', { CommandField: 0x8021, MessageIDBeingRespondedTo: 3, CommandDataSetType: 0x0101, Status: 0xff00, NumberOfRemainingSuboperations: 10, NumberOfCompletedSuboperations: 2, NumberOfFailedSuboperations: 0, NumberOfWarningSuboperations: 1 }],
    ['C-STORE-RQ of a C-MOVE sub-operation', { CommandField: 0x0001, MessageID: 9, Priority: 0, CommandDataSetType: 0x0000, AffectedSOPClassUID: CT, AffectedSOPInstanceUID: '1.2.3', MoveOriginatorApplicationEntityTitle: 'SCU', MoveOriginatorMessageID: 3 }],
  ];

  it.each(commands)('writes the bytes dcmjs writes: %s', (_name, elements) => {
    const ours = encodeCommand(elements);
    expect(ours).toBeDefined();
    expect(ours!.toString('hex')).toBe(dcmjsBytes(elements).toString('hex'));
  });

  it('starts with the Command Group Length of what follows (PS3.7 E.1)', () => {
    const bytes = encodeCommand({ CommandField: 0x8001, Status: 0, AffectedSOPInstanceUID: '1.2.3' })!;
    expect(bytes.readUInt32LE(0)).toBe(0);
    expect(bytes.readUInt32LE(4)).toBe(4);
    expect(bytes.readUInt32LE(8)).toBe(bytes.length - 12);
  });

  it('leaves fields and values it does not know to dcmjs', () => {
    expect(encodeCommand({ CommandField: 0x8001, OffendingElement: ['00100010'] })).toBeUndefined();
    expect(encodeCommand({ CommandField: 0x8001, Status: 0x1ffff })).toBeUndefined();
    expect(encodeCommand({ CommandField: '1' })).toBeUndefined();
    expect(encodeCommand({ CommandField: 0x8001, ErrorComment: 'Müller' })).toBeUndefined();
    expect(encodeCommand({ CommandField: 0x8001, ErrorComment: null })).toBeUndefined();
  });
});
