/**
 * Tracing is optional: with no OTLP endpoint in the environment, nothing from OpenTelemetry is
 * imported and every span is a no-op.
 */

export type SpanAttributes = Record<string, string | number | boolean | undefined>;

export interface RunOutcome {
  attributes: SpanAttributes;
  error?: string;
}

export interface CallSpan {
  set(attributes: SpanAttributes): void;
  end(error?: unknown): void;
}

export interface Tracing {
  readonly enabled: boolean;
  /** Prompts and answers go on spans only when asked (--log-prompts). */
  readonly logPrompts: boolean;
  /** The root span of a task run; `outcome` reads how it ended from `fn`'s result (an `error` marks the span failed). */
  run<T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>, outcome?: (result: T) => RunOutcome): Promise<T>;
  /** One service, a child of the run span whatever context it is called from. */
  service<T>(serviceId: string, fn: () => Promise<T>): Promise<T>;
  /** One model call, a child of the active (service) span; `startTime` (epoch ms) when it began before the span was made. */
  call(name: string, attributes: SpanAttributes, startTime?: number): CallSpan;
  shutdown(): Promise<void>;
  /** For an exit at once (a second Ctrl-C): ends the spans still open, failed with `reason`, and sends them, waiting `waitMs` at most. */
  abandon(reason: string, waitMs?: number): Promise<void>;
}

const noSpan: CallSpan = { set() {}, end() {} };

export const noTracing: Tracing = {
  enabled: false,
  logPrompts: false,
  run: (_n, _a, fn) => fn(),
  service: (_id, fn) => fn(),
  call: () => noSpan,
  shutdown: async () => {},
  abandon: async () => {},
};

const tracingEnabled = (env: Record<string, string | undefined>) => Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);

export async function createTracing(env: Record<string, string | undefined>, options: { logPrompts?: boolean } = {}): Promise<Tracing> {
  if (!tracingEnabled(env)) return noTracing;
  const { createOtelTracing } = await import("./tracing-otel.ts");
  return createOtelTracing(env, options.logPrompts ?? false);
}

/** Why spans could not be sent: the OTLP exporter rejects with a list of errors, or with one. */
export function exportFailure(error: unknown): string {
  const first: unknown = Array.isArray(error) ? error[0] : error;
  return first instanceof Error ? first.message : String(first);
}
