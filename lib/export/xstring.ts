/**
 * OOXML's ST_Xstring escape, as Excel writes it: a UTF-16 code unit that XML 1.0 cannot hold
 * becomes `_xHHHH_`, and the `_` of a literal `_xHHHH_` in the text becomes `_x005F_` so a
 * reader does not decode it. exceljs drops such characters (its `xmlEncode`), so a cell's text
 * goes through this first and reaches the file as plain ASCII escapes.
 *
 * Escaped besides the C0 controls XML forbids: carriage return (an XML reader turns it into a line
 * feed), DEL (exceljs drops it), U+FFFE and U+FFFF (not XML characters) and lone surrogates (no
 * UTF-8 form). Tab and line feed stay as they are.
 */
const unsafe =
  /_(?=x[0-9A-Fa-f]{4}_)|[\x00-\x08\x0B-\x1F\x7F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const escape = (unit: string) => `_x${unit.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}_`;

export const xstring = (text: string): string => text.replace(unsafe, escape);
