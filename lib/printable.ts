/** Escapes of the control characters a terminal would act on, in the form JSON readers know. */
const named: Record<string, string> = { "\n": "\\n", "\r": "\\r" };
const escape = (c: string) => named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/**
 * Text from a file as a terminal line shows it: a control character (an escape sequence that
 * recolours or clears the screen, a line break that fakes a line of the report) or a bidi override
 * (which reorders what is shown) becomes a visible escape such as `\u001b`. Tab stays.
 */
export const printable = (text: string): string => text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, escape);

/** `printable` for a log line, whose own line breaks stay: only what a terminal would act on otherwise is escaped. */
export const printableLines = (text: string): string => text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, escape);
