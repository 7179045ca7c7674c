import { Tracing } from './tracing';

let current = new Tracing(false);
let stop: (() => Promise<void>) | undefined;

/** The environment variables that turn tracing on, by the OpenTelemetry specification's names. */
export function tracingEndpoint(env: NodeJS.ProcessEnv): string | undefined {
  if (env.OTEL_SDK_DISABLED === 'true') return undefined;
  return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined;
}

/**
 * Starts the OpenTelemetry SDK for `app` when an OTLP endpoint is configured: spans go to it over
 * OTLP/HTTP, sampled as `OTEL_TRACES_SAMPLER` says (parent-based always-on by default), the other
 * `OTEL_*` variables apply as the specification says. Without one nothing is loaded, and trace
 * context still flows. Returns the process's {@link Tracing}.
 */
export async function startTracing(app: string, env: NodeJS.ProcessEnv = process.env): Promise<Tracing> {
  if (!tracingEndpoint(env) || stop) return current;
  const [{ NodeSDK }, { OTLPTraceExporter }] = await Promise.all([import('@opentelemetry/sdk-node'), import('@opentelemetry/exporter-trace-otlp-http')]);
  // No context manager: every span names its parent explicitly and log lines take their ids from
  // `logFields()`. The SDK's default (AsyncLocalStorage) turns on async hooks on Node 20, and they
  // slow every promise of the process: a loop of awaits ran 1.5-3× slower with them on.
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME || `triggers-${app}`,
    traceExporter: new OTLPTraceExporter(),
    instrumentations: [],
    // null: register none (sdk-node's own rule; its typings leave null out).
    contextManager: null as unknown as undefined,
  });
  sdk.start();
  stop = () => sdk.shutdown();
  current = new Tracing(true);
  return current;
}

/** The process's tracing: spans recorded once {@link startTracing} turned it on, context only otherwise. */
export function tracing(): Tracing {
  return current;
}

/** Exports the spans still buffered and stops the SDK (at shutdown). */
export async function stopTracing(): Promise<void> {
  await stop?.();
}
