export { decodeText } from './decode.js';
export type { DecodeOptions } from './decode.js';
export { chooseCharacterSetFor, encodeText } from './encode.js';
export { CharsetEncodeError } from './errors.js';
export {
  formatNameComponents,
  formatPersonName,
  parseNameComponents,
  parsePersonName,
  splitNameComponents,
} from './person-name.js';
export type { PersonName, PersonNameComponents } from './person-name.js';
export {
  DEFINED_TERMS,
  interpretSpecificCharacterSet,
  resolveSpecificCharacterSet,
} from './specific-character-set.js';
export type {
  DefinedTerm,
  SpecificCharacterSet,
  TermCategory,
  VariableLengthEncoding,
} from './specific-character-set.js';
export type { CodeElement, Register } from './code-elements.js';
export { isCharsetVr, isMultiValued, splitValues, trimPadding } from './text-vr.js';
