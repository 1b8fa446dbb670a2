import { context, SpanKind, SpanStatusCode, type Context, type Span } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from "@opentelemetry/sdk-trace";
import { SAError } from "./errors.ts";
import { redact } from "./redact.ts";
import type { RunOutcome, SpanAttributes, Tracing } from "./tracing.ts";

const clean = (a: SpanAttributes) => Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as Record<string, string | number | boolean>;

async function exporterFor(env: Record<string, string | undefined>): Promise<SpanExporter> {
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf";
  // The exporters read OTEL_EXPORTER_OTLP_ENDPOINT themselves and add /v1/traces.
  if (protocol === "http/json") return new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter();
  if (protocol === "http/protobuf") return new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter();
  throw new SAError("E_CONFIG", `OTEL_EXPORTER_OTLP_PROTOCOL: "${protocol}" is not supported (use http/json or http/protobuf)`);
}

/** Ends a span, marked failed (the message redacted) when an error ended its work. */
function finish(span: Span, error?: unknown): void {
  if (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    const { code, details } = e as { code?: unknown; details?: { status?: unknown } };
    // GenAI conventions: error.type is the HTTP status when one came back, else the error's code or class.
    span.setAttribute("error.type", typeof details?.status === "number" ? String(details.status) : typeof code === "string" ? code : e.name);
    // The exception event carries the message and the stack: redacted, as every log line is (a
    // plug-in provider's error may quote a key).
    span.recordException({ ...(typeof code === "string" || typeof code === "number" ? { code } : {}), name: e.name, message: redact(e.message), stack: e.stack ? redact(e.stack) : undefined });
    span.setStatus({ code: SpanStatusCode.ERROR, message: redact(e.message) });
  }
  span.end();
}

/** Runs `fn` in a span and ends the span with its outcome; `open` holds the span meanwhile. */
async function active<T>(span: Span, open: Set<Span>, fn: () => Promise<T>, outcome?: (result: T) => RunOutcome): Promise<T> {
  open.add(span);
  try {
    const result = await fn();
    const ended = outcome?.(result);
    if (ended) span.setAttributes(clean(ended.attributes));
    if (ended?.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: redact(ended.error) });
    finish(span);
    return result;
  } catch (error) {
    finish(span, error);
    throw error;
  } finally {
    open.delete(span);
  }
}

/** Ends the spans still open (children first: the run began first) and sends what is queued, `waitMs` at most. */
async function abandonSpans(provider: TracerProvider, open: Set<Span>, reason: string, waitMs: number): Promise<void> {
  for (const span of [...open].reverse()) finish(span, new Error(reason));
  open.clear();
  await Promise.race([provider.forceFlush().catch(() => {}), new Promise((done) => setTimeout(done, waitMs).unref())]);
}

/** Manual spans over OTLP/HTTP. Bun needs the AsyncLocalStorage context manager for parents to stick. */
export async function createOtelTracing(env: Record<string, string | undefined>, logPrompts: boolean): Promise<Tracing> {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME ?? "service-ambitions" }),
    spanProcessors: [new BatchSpanProcessor({ exporter: await exporterFor(env), maxQueueSize: 65_536, maxExportBatchSize: 1024, scheduledDelayMillis: 1000 })],
  });
  const tracer = provider.getTracer("service-ambitions");
  let runContext: Context | undefined;
  // Spans begun and not ended yet, so that an exit at once can end and send them.
  const open = new Set<Span>();

  return {
    enabled: true,
    logPrompts,
    run(name, attributes, fn, outcome) {
      return tracer.startActiveSpan(name, { attributes: clean(attributes) }, (span) => {
        runContext = context.active();
        return active(span, open, fn, outcome);
      });
    },
    service(serviceId, fn) {
      // Services start from the queue's context, not the run's: give them the run as parent.
      return tracer.startActiveSpan(`service ${serviceId}`, { attributes: { "sa.service_id": serviceId } }, runContext ?? context.active(), (span) => active(span, open, fn));
    },
    call(name, attributes, startTime) {
      // A model call is a client span (GenAI conventions).
      const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes: clean(attributes), startTime }, context.active());
      open.add(span);
      return {
        set: (a) => span.setAttributes(clean(a)),
        end: (error) => {
          open.delete(span);
          finish(span, error);
        },
      };
    },
    abandon: (reason, waitMs = 1000) => abandonSpans(provider, open, reason, waitMs),
    async shutdown() {
      await provider.forceFlush();
      await provider.shutdown();
    },
  };
}
