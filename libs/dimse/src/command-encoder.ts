/**
 * Command set fields (PS3.7 E.1, group 0000) by the keyword dcmjs-dimse names them with: tag and VR.
 * AT fields (Offending Element, Attribute Identifier List) are left out: those commands take the
 * library's own encoder.
 */
const COMMAND_FIELDS: ReadonlyMap<string, readonly [number, 'UL' | 'US' | 'UI' | 'AE' | 'LO']> = new Map([
  ['AffectedSOPClassUID', [0x0002, 'UI']],
  ['RequestedSOPClassUID', [0x0003, 'UI']],
  ['CommandField', [0x0100, 'US']],
  ['MessageID', [0x0110, 'US']],
  ['MessageIDBeingRespondedTo', [0x0120, 'US']],
  ['MoveDestination', [0x0600, 'AE']],
  ['Priority', [0x0700, 'US']],
  ['CommandDataSetType', [0x0800, 'US']],
  ['Status', [0x0900, 'US']],
  ['ErrorComment', [0x0902, 'LO']],
  ['ErrorID', [0x0903, 'US']],
  ['AffectedSOPInstanceUID', [0x1000, 'UI']],
  ['RequestedSOPInstanceUID', [0x1001, 'UI']],
  ['EventTypeID', [0x1002, 'US']],
  ['ActionTypeID', [0x1008, 'US']],
  ['NumberOfRemainingSuboperations', [0x1020, 'US']],
  ['NumberOfCompletedSuboperations', [0x1021, 'US']],
  ['NumberOfFailedSuboperations', [0x1022, 'US']],
  ['NumberOfWarningSuboperations', [0x1023, 'US']],
  ['MoveOriginatorApplicationEntityTitle', [0x1030, 'AE']],
  ['MoveOriginatorMessageID', [0x1031, 'US']],
] as const);

/**
 * A command set in Implicit VR Little Endian (PS3.7 6.3.1) with its Command Group Length first,
 * from dcmjs-dimse's naturalized command elements: the same bytes dcmjs writes, without its
 * generic dataset writer (every C-STORE-RSP went through it, a measurable share of ingest CPU).
 * Undefined when a field or value is one this encoder does not know: the caller then uses dcmjs.
 */
export function encodeCommand(elements: Readonly<Record<string, unknown>>): Buffer | undefined {
  const fields: { element: number; value: Buffer }[] = [];
  for (const keyword in elements) {
    const value = elements[keyword];
    // dcmjs skips fields whose value is undefined.
    if (value === undefined) continue;
    const field = COMMAND_FIELDS.get(keyword);
    if (!field) return undefined;
    const [element, vr] = field;
    const bytes = encodeValue(vr, value);
    if (!bytes) return undefined;
    fields.push({ element, value: bytes });
  }
  fields.sort((a, b) => a.element - b.element);
  let length = 0;
  for (const f of fields) length += 8 + f.value.length;
  const out = Buffer.allocUnsafe(12 + length);
  // (0000,0000) Command Group Length, UL: the length of the fields after it.
  out.writeUInt32LE(0, 0);
  out.writeUInt32LE(4, 4);
  out.writeUInt32LE(length, 8);
  let pos = 12;
  for (const f of fields) {
    out.writeUInt16LE(0x0000, pos);
    out.writeUInt16LE(f.element, pos + 2);
    out.writeUInt32LE(f.value.length, pos + 4);
    f.value.copy(out, pos + 8);
    pos += 8 + f.value.length;
  }
  return out;
}

function encodeValue(vr: 'UL' | 'US' | 'UI' | 'AE' | 'LO', value: unknown): Buffer | undefined {
  if (vr === 'US' || vr === 'UL') {
    const max = vr === 'US' ? 0xffff : 0xffffffff;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) return undefined;
    const b = Buffer.allocUnsafe(vr === 'US' ? 2 : 4);
    if (vr === 'US') b.writeUInt16LE(value, 0);
    else b.writeUInt32LE(value, 0);
    return b;
  }
  // Command strings are ASCII (PS3.7 E.1, default repertoire); anything else goes to dcmjs.
  if (typeof value !== 'string' || !/^[\x20-\x7e]*$/.test(value)) return undefined;
  // PS3.5 6.2: even length, UI padded with NUL, the other string VRs with a space.
  const padded = value.length % 2 === 0 ? value : value + (vr === 'UI' ? '\0' : ' ');
  return Buffer.from(padded, 'latin1');
}
