/**
 * Cuts a byte stream into whole PDUs (PS3.8 9.3: type, reserved, 32-bit big endian length). dcmjs-dimse
 * re-concatenates its partial PDU with every socket read, which for a 256 KiB PDU arriving in 64 KiB
 * reads copies it over and over (and feeds the garbage collector); handing it whole PDUs makes that
 * one copy at most, none when a PDU arrives in one read. Lengths are checked by the AssociationGuard
 * before bytes get here.
 */
export class PduFramer {
  private parts: Buffer[] = [];
  private held = 0;
  /** Total length (header included) of the PDU being collected; 0 until its header is complete. */
  private expected = 0;

  constructor(private readonly emit: (pdu: Buffer) => void) {}

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.held === 0) {
        // Fast path: whole PDUs inside this chunk go out as views, no copy.
        const available = chunk.length - pos;
        if (available >= 6) {
          const total = 6 + chunk.readUInt32BE(pos + 2);
          if (available >= total) {
            this.emit(chunk.subarray(pos, pos + total));
            pos += total;
            continue;
          }
        }
      }
      const take = this.expected > 0 ? Math.min(this.expected - this.held, chunk.length - pos) : Math.min(6 - this.held, chunk.length - pos);
      this.parts.push(chunk.subarray(pos, pos + take));
      this.held += take;
      pos += take;
      if (this.expected === 0 && this.held >= 6) {
        const header = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.held);
        this.parts = [header];
        this.expected = 6 + header.readUInt32BE(2);
      }
      if (this.expected > 0 && this.held === this.expected) {
        const pdu = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.held);
        this.parts = [];
        this.held = 0;
        this.expected = 0;
        this.emit(pdu);
      }
    }
  }
}
