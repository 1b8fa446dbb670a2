import { sha256Hex as sha256 } from "./hash.ts";
import { canonicalJson } from "./jsonl.ts";
import { template, templateNames } from "./prompts/render.ts";
import type { Config } from "./schema/config.ts";

/**
 * Config keys that shape an answer besides the prompts: the models and their settings. Whole
 * sections are hashed (not picked fields), so a key added to `models` or a settings section
 * later counts without a change here. Keys absent from the config are skipped.
 */
const answerShapingKeys = ["model", "models", "temperature", "seed", "featuresPerRole", "enumLimit", "mappingSets", "modelSettings", "reasoning", "maxOutputTokens"] as const;

/** One digest of everything the prompts are made of that is the same for every service. */
export function promptsDigest(domainText: string): string {
  return sha256(canonicalJson({ domain: domainText, templates: templateNames.map((name) => [name, template(name)]) }));
}

export interface FingerprintInputs {
  /** The service record as the input gave it (key order and whitespace never matter). */
  service: unknown;
  catalogueHash: string;
  /** `promptsDigest(...)` of the run. */
  prompts: string;
  config: Partial<Config> & Record<string, unknown>;
}

/**
 * The fingerprint of what one service's line in the output was made from: its record, the
 * catalogues, the prompts and the answer-shaping config. A resumed run skips a service only
 * when its line carries the same fingerprint (`meta.models.fingerprint`).
 */
export function inputFingerprint(inputs: FingerprintInputs): string {
  // canonicalJson({ v: 1, service, catalogueHash, prompts, config }), keys in sorted order, with the
  // config's part (the same for every service of a run) written once per config object.
  const material = `{"catalogueHash":${JSON.stringify(inputs.catalogueHash)},"config":${configJson(inputs.config)},"prompts":${JSON.stringify(inputs.prompts)},"service":${canonicalJson(inputs.service)},"v":1}`;
  return `v1:${sha256(material).slice(0, 32)}`;
}

/** A run's config is not changed once loaded: its answer-shaping part is written once per object. */
const configJsons = new WeakMap<object, string>();
function configJson(config: FingerprintInputs["config"]): string {
  let json = configJsons.get(config);
  if (json === undefined) {
    json = canonicalJson(Object.fromEntries(answerShapingKeys.filter((k) => config[k] !== undefined).map((k) => [k, config[k]])));
    configJsons.set(config, json);
  }
  return json;
}
