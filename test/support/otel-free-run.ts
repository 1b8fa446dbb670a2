// Runs the pipeline in-process with tracing off, then reports whether any OpenTelemetry module was loaded.
import { join } from "node:path";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { loadConfig } from "../../lib/config.ts";
import { silentLog } from "../../lib/log.ts";
import { runServices } from "../../lib/pipeline/run.ts";
import { createRuntime } from "../../lib/runtime.ts";
import { createTracing } from "../../lib/tracing.ts";

const dir = mkdtempSync(join(tmpdir(), "sa-otel-free-"));
const root = join(import.meta.dir, "..", "..");
const config = await loadConfig({ env: {}, overrides: { dataDir: join(root, "fixtures/data"), model: "synthetic:demo", cache: { driver: "memory" }, ledger: { path: join(dir, "usage.json") }, quarantineDir: join(dir, "q") } });
const tracing = await createTracing({});
const rt = await createRuntime({ task: "run", config, log: silentLog, tracing });
const summary = await runServices(rt, { input: join(root, "fixtures/services.jsonl"), output: join(dir, "out.jsonl") });
await rt.close();
const loaded = Object.keys(require.cache).filter((k) => k.includes("@opentelemetry"));
process.stdout.write(JSON.stringify({ status: summary.status, tracing: tracing.enabled, loaded }));
