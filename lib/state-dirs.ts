import { accessSync, constants, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { SAError } from "./errors.ts";
import { fsReason } from "./fs-reason.ts";
import type { Config } from "./schema/config.ts";

/** A probe left half-written by a full disk goes; where there is nothing to remove, there is nothing to do. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // a parent that is a file, a read-only folder: no probe was made
  }
}

/** The folder that holds `dir` once it is made: `dir` itself, or its nearest ancestor that exists. */
function nearestExisting(dir: string): string {
  let at = dir;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  return at;
}

/**
 * Everything that would stop a run from keeping its books, found before the first call: the
 * ledger's folder (the ledger and every call's journal line) cannot be made or written (a
 * read-only checkout, a full disk, a parent that is a file), or the quarantine's folder cannot
 * be. Without this a run pays for each service's first call and then fails it.
 */
export function checkStateWritable(config: Pick<Config, "ledger" | "quarantineDir">): void {
  const ledgerDir = dirname(config.ledger.path);
  const probe = join(ledgerDir, `.probe-${process.pid}`);
  try {
    mkdirSync(ledgerDir, { recursive: true });
    writeFileSync(probe, "probe\n");
    rmSync(probe, { force: true });
  } catch (error) {
    removeQuietly(probe);
    throw new SAError("E_CONFIG", `ledger ${config.ledger.path}: folder ${ledgerDir} cannot be written (${fsReason(error)}); run from a writable folder or set ledger.path (SA_LEDGER__PATH)`, { cause: error });
  }
  // The quarantine's folder is made only when something is quarantined: its nearest folder must take it.
  const holder = nearestExisting(config.quarantineDir);
  try {
    if (!statSync(holder).isDirectory()) throw Object.assign(new Error(`${holder} is a file`), { code: "ENOTDIR" });
    accessSync(holder, constants.W_OK);
  } catch (error) {
    throw new SAError("E_CONFIG", `quarantineDir ${config.quarantineDir}: cannot be written (${fsReason(error)}); set quarantineDir (SA_QUARANTINE_DIR)`, { cause: error });
  }
}
