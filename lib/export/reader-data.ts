import { existsSync, statSync } from "node:fs";
import type { LoadedConfig } from "../config.ts";
import { configCatalogueHash, loadDataset, type Dataset } from "../data.ts";
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
  if (!statSync(config.dataDir).isDirectory()) throw new SAError("E_DATA", `data ${config.dataDir} (${config.dataDirFrom ?? "the default dataDir"}): not a folder`);
  return loadDataset({ dataDir: config.dataDir, mappingSets: config.mappingSets }, { requireRolesAndPlateaus: false });
}

/** A hash of zeros is a placeholder (hand-written files, the Python tool's test files): no hash recorded. */
const recordedHash = (hash: string) => !/^0+$/.test(hash);

/**
 * One line when the data folder's catalogues are not those the evolutions were mapped to (none of
 * their `meta.catalogue_hash`): its names and unused items may not fit the file. Else undefined.
 */
export async function catalogueMismatch(config: Pick<LoadedConfig, "dataDir" | "dataDirFrom" | "mappingSets">, data: Dataset, allHashes: string[]): Promise<string | undefined> {
  const hashes = allHashes.filter(recordedHash);
  if (!hashes.length) return undefined;
  const hash = await configCatalogueHash(config, data.catalogues);
  if (hashes.includes(hash)) return undefined;
  const short = (h: string) => h.slice(0, 12);
  return `data ${config.dataDir} (${config.dataDirFrom ?? "the default dataDir"}): its catalogues (catalogue hash ${short(hash)}) are not the catalogues the evolutions were mapped to (${hashes.map(short).join(", ")}); names and unused items come from this folder`;
}
