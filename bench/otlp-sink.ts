import { Server, createServer } from 'node:http';

/** Tracing at 10% sampling, as the cost goal names it. */
export const TRACING_SAMPLE_RATIO = 0.1;

/**
 * A local OTLP/HTTP endpoint that takes the apps' span exports and throws them away, counting the
 * spans, so a bench measures what tracing costs the app and not a collector.
 */
export async function startOtlpSink(): Promise<{ env: Record<string, string>; spans(): number; close(): Promise<void> }> {
  let spans = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // Counted without parsing: every span in the JSON export has exactly one "spanId".
      spans += Buffer.concat(chunks).toString().split('"spanId"').length - 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: String(TRACING_SAMPLE_RATIO),
    },
    spans: () => spans,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
