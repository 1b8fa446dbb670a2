import { SAError } from "../lib/errors.ts";

/** What one measured child process cost: wall time, CPU time (user + sys) and peak RSS. */
export interface Measured {
  code: number;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** Epoch ms when the child was spawned. */
  startedAt: number;
  cpuMs: number;
  peakRssMiB: number;
}

/**
 * Runs a command as a child process and measures it from outside, so both sides of a comparison
 * are timed the same way: process start, module loading and exit included.
 */
export async function measure(cmd: string[], options: { cwd: string; env?: Record<string, string | undefined> }): Promise<Measured> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, CI: "true", ...options.env })) if (v !== undefined) env[k] = v;
  const started = performance.now();
  const startedAt = Date.now();
  const proc = Bun.spawn(cmd, { cwd: options.cwd, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const wallMs = performance.now() - started;
  const usage = proc.resourceUsage();
  // Bun reports CPU time in microseconds and maxRSS in bytes.
  const cpuMs = usage ? Number(usage.cpuTime.user + usage.cpuTime.system) / 1000 : Number.NaN;
  const peakRssMiB = usage ? Math.round(usage.maxRSS / 1048576) : Number.NaN;
  return { code, stdout, stderr, wallMs, startedAt, cpuMs, peakRssMiB };
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/**
 * Reads a child's stdout until `marker` has appeared (a server's "ready" line), then lets go of
 * the stream. Returns the text read; throws `E_USAGE` with `failure` when the output ends first.
 */
export async function readUntil(stdout: ReadableStream<Uint8Array>, marker: string, failure: string): Promise<string> {
  const reader = stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes(marker)) {
    const { value, done } = await reader.read();
    if (done) throw new SAError("E_USAGE", failure);
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  return text;
}
