import { isSAError, SAError } from "../errors.ts";

/**
 * A call still waiting for its wave (or its endpoint's own rpm/tpm turn) at a stop is no request
 * of this run: the next run reads its batch's answer, or sends it then, and counts it once. Here, not in lib/batch/, so that the call
 * path asks without loading batch mode.
 */
export const isLeftWaiting = (error: unknown): boolean => isSAError(error) && error.details.leftWaiting === true;

/** The stop's error, marked for the calls it leaves waiting. */
export const leftWaiting = (error: Error): Error =>
  isSAError(error) ? new SAError(error.code, error.message, { cause: error.cause, details: { ...error.details, leftWaiting: true } }) : error;
