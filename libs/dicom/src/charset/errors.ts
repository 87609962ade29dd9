/** A character that the Specific Character Set in force cannot represent, so the value cannot be written. */
export class CharsetEncodeError extends Error {
  /** The character's code point, e.g. 0x5C71 for 山. */
  readonly codePoint: number;

  constructor(
    /** The character (one code point; a lone surrogate if the text was not well-formed UTF-16). */
    readonly character: string,
    /** Specific Character Set (0008,0005) as a DICOM string, e.g. "ISO 2022 IR 6\\ISO 2022 IR 87". */
    readonly characterSet: string,
    /** Where the character is in the text, in UTF-16 code units. */
    readonly index: number,
    readonly vr: string,
    reason?: string,
  ) {
    const codePoint = character.codePointAt(0) ?? 0;
    const u = `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
    super(
      `Cannot encode ${JSON.stringify(character)} (${u}) at index ${index} of a ${vr} value ` +
        `in Specific Character Set "${characterSet}"${reason ? `: ${reason}` : ''}`,
    );
    this.name = 'CharsetEncodeError';
    this.codePoint = codePoint;
  }
}
