/** Every failure the toolkit reports carries one of these codes. */
export const exitCodes = {
  E_USAGE: 2,
  E_CONFIG: 2,
  E_DATA: 2,
  E_INPUT_UNREADABLE: 2,
  E_INPUT_LINE: 1,
  E_VALIDATION: 1,
  E_PROVIDER: 1,
  E_CALL_FAILED: 1,
  E_CACHE: 1,
  /** The tool's own files could not be written: a disk that filled up or turned read-only. */
  E_WRITE: 1,
  E_DRY_RUN_MISS: 1,
  E_LIMIT: 3,
  E_BUDGET: 3,
  E_INTERRUPTED: 130,
  /** A bug: an error the tool does not know. */
  E_UNEXPECTED: 1,
} as const;

export type ErrorCode = keyof typeof exitCodes;

/** Marks every SAError, whichever copy of this module made it (see `Symbol.hasInstance` below). */
const brand = Symbol.for("service-ambitions.SAError");

/** The one error type: a code for programs, a one-line message for people, and the cause for --verbose. */
export class SAError extends Error {
  /**
   * A run started from its precompiled bundle holds its own copy of this module, and a provider
   * plug-in that imports lib/errors.ts gets the source's: either copy's SAError is an SAError.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && brand in value;
  }
  declare readonly [brand]: true;
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, { cause: options.cause });
    this.name = "SAError";
    this.code = code;
    this.details = options.details ?? {};
  }
  get exitCode(): number {
    return exitCodes[this.code];
  }
}
Object.defineProperty(SAError.prototype, brand, { value: true });

export const isSAError = (error: unknown, code?: ErrorCode): error is SAError =>
  error instanceof SAError && (code === undefined || error.code === code);

/** A usage limit or the hard budget stopped the run (exit 3): not a failure of the call it reached. */
export const isUsageStop = (error: unknown): error is SAError => isSAError(error, "E_LIMIT") || isSAError(error, "E_BUDGET");

/**
 * A provider's error raised before any request went out (its key not set, a header's variable
 * missing): the call was never asked, so the ledger counts it as skipped, with no request.
 */
export const unsent = (error: SAError): SAError => new SAError(error.code, error.message, { cause: error.cause, details: { ...error.details, unsent: true } });
export const isUnsent = (error: unknown): boolean => isSAError(error) && error.details.unsent === true;

/** A one-line description of any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message.split("\n")[0] ?? error.name;
  return String(error);
}
