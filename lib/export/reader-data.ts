import { existsSync } from "node:fs";
import type { LoadedConfig } from "../config.ts";
import { loadDataset, type Dataset } from "../data.ts";
import { SAError } from "../errors.ts";

/**
 * The data folder `export` and `check` read, found as `run` finds it: `--data`, else `SA_DATA_DIR`,
 * else the config's `dataDir` (the Python tool's ./data under its config). A folder someone named
 * must exist; the default one is read when it is there, and without it names come from the file.
 * Names and catalogues only: the prompt files the config names are run's, not needed here.
 */
export async function readerData(config: Pick<LoadedConfig, "dataDir" | "dataDirFrom" | "mappingSets">): Promise<Dataset | undefined> {
  if (!existsSync(config.dataDir)) {
    if (config.dataDirFrom) throw new SAError("E_DATA", `data ${config.dataDir} (${config.dataDirFrom}): folder not found`);
    return undefined;
  }
  return loadDataset({ dataDir: config.dataDir, mappingSets: config.mappingSets }, { requireRolesAndPlateaus: false });
}
