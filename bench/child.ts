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
