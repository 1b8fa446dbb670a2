#!/usr/bin/env bun
import type { Dataset } from "../lib/data.ts";
import { loadDataset } from "../lib/data.ts";
import type { RunEstimate } from "../lib/estimate.ts";
import type { Config } from "../lib/schema/config.ts";
import type { Service } from "../lib/schema/service.ts";
import { canListModels, checkEndpointSecrets, checkListedModels, createProviders } from "../lib/endpoints.ts";
import type { Provider } from "../providers/types.ts";
import { allModels } from "../lib/model-settings.ts";
import { sharedArgs } from "./_args.ts";
import {
  checkCacheStore,
  checkEstimate,
  checkInput,
  checkPrompts,
  createChecks,
  dataSummary,
  type Checks,
  type PreflightInput,
} from "./_preflight-checks.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask, runTask } from "./_task.ts";
import { writeStdout } from "../lib/stdout.ts";
import { SAError, errorMessage, isSAError, type ErrorCode } from "../lib/errors.ts";
import { writeFileAtomicSync } from "../lib/atomic-write.ts";
import { checkOutputWritable } from "../lib/output-claim.ts";
import { exitOnSignal, signalExitCode, type StopSignal } from "../lib/signals.ts";

/** What a run would refuse before any work (exit 2): config or data it cannot load, an input it cannot read at all (or none given, a usage error). */
const unreadable = new Set<ErrorCode>(["E_CONFIG", "E_DATA", "E_INPUT_UNREADABLE"]);

const interrupted = (signal: StopSignal) => `${JSON.stringify({ ok: false, status: "interrupted", exitCode: signalExitCode(signal) })}\n`;

const task = defineTask({
  meta: taskMeta.preflight,
  args: {
    ...sharedArgs,
    online: { type: "boolean", description: "Also ask the provider for its models (GET /models); never calls a model" },
    batch: { type: "boolean", description: "Estimate at the Batch API's price (run --batch; config batch.priceFactor)" },
  },
  async run({ args, log, config: load }) {
    // Ctrl-C or SIGTERM while a check waits (the cache store, --online's model list): exit 130/143, with --json's object.
    exitOnSignal(process.exit, { lastWords: args.json ? interrupted : undefined });
    const checks = createChecks();
    let config: (Config & { configFile?: string }) | undefined;
    await checks.run("config", async () => {
      config = await load();
      return config.configFile ? `valid (${config.configFile})` : "valid (defaults, no config file)";
    });
    const state = config ? await checkWithConfig(checks, { config, args, log }) : {};
    const ok = checks.ok();
    // `preflight --json > preflight.json` in a Makefile or CI step: what failed still reaches the job's log.
    if (args.json) for (const line of checks.failures()) log.error(line);
    deliver(args.json ? `${JSON.stringify({ ok, checks: checks.list, estimate: state.estimate ?? null })}\n` : checks.text(), args);
    // Bad config, or a data or input file that cannot be read, is exit 2 as in run; any other problem is exit 1.
    if (!config || checks.list.some((c) => c.code && (unreadable.has(c.code) || (c.name === "input" && c.code === "E_USAGE")))) return 2;
    return ok ? 0 : 1;
  },
});

/** The report to `--output FILE` (replaced whole) and to stdout; with a file, stdout gets only `--json`'s object. */
function deliver(report: string, args: { output?: string; json?: boolean }): void {
  const file = args.output && args.output !== "-" ? args.output : undefined;
  if (file) {
    try {
      checkOutputWritable(file);
      writeFileAtomicSync(file, report);
    } catch (error) {
      throw isSAError(error) ? error : new SAError("E_USAGE", `--output ${file}: cannot be written (${errorMessage(error)})`, { cause: error });
    }
  }
  if (!file || args.json) void writeStdout(report);
}

/** Every check that needs a valid config, in the order a run meets them. */
async function checkWithConfig(checks: Checks, input: Omit<PreflightInput, "data" | "services">): Promise<{ estimate?: RunEstimate }> {
  const { config } = input;
  let data: Dataset | undefined;
  await checks.run("data", async () => {
    data = await loadDataset(config);
    return dataSummary(config, data);
  });
  if (data) await checks.run("prompts", async () => checkPrompts(config, data!));
  let services: Service[] = [];
  await checks.run("input", async () => {
    const result = await checkInput(input.args.input ?? config.input);
    services = result.services;
    return result;
  });
  await checks.run("cache", () => checkCacheStore(config, { batch: input.args.batch }));
  let providers: Provider[] = [];
  await checks.run("environment", async () => {
    // Built through the registry as a run builds them; nothing is sent until asked.
    providers = await createProviders(allModels(config), config, { env: process.env, http: { ...config.retry, requestTimeout: config.requestTimeout } });
    return checkEndpointSecrets(providers, config, process.env);
  });
  if (input.args.online && canListModels(providers)) await checks.run("provider", () => checkListedModels(providers));
  if (!data) return {};
  let estimate: RunEstimate | undefined;
  await checks.run("estimate", async () => {
    const result = await checkEstimate({ ...input, data: data!, services });
    estimate = result.estimate;
    return result;
  });
  return { estimate };
}

export default task;

if (import.meta.main) await runTask(task);
