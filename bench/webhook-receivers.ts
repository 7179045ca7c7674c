import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import { Worker } from 'node:worker_threads';

/**
 * Keep-alive webhook receivers on loopback, in a worker thread of their own so they do not share
 * an event loop with the client being measured. Request paths end in the delivery's index; the
 * first arrival of each index is timed.
 */
export interface BenchReceivers {
  urls: string[];
  /** Requests answered or held, all endpoints. */
  requests(): number;
  /** Distinct indexes received. */
  distinct(): number;
  /** When index i first arrived (epoch ms), 0 if not yet. */
  arrivedAt(i: number): number;
  close(): Promise<void>;
}

const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const http = require('node:http');
const counts = new Int32Array(workerData.counts);
const times = new Float64Array(workerData.times);
const servers = [];
let listening = 0;
for (let k = 0; k < workerData.endpoints; k++) {
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    req.resume();
    req.on('end', () => {
      Atomics.add(counts, 0, 1);
      const i = Number(req.url.slice(req.url.lastIndexOf('/') + 1));
      if (Number.isInteger(i) && i >= 0 && i < times.length && times[i] === 0) {
        times[i] = Date.now();
        Atomics.add(counts, 1, 1);
      }
      if (k === workerData.hung) return; // never answers
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  server.keepAliveTimeout = 60000;
  servers.push(server);
  server.listen(0, '127.0.0.1', () => {
    if (++listening === workerData.endpoints) parentPort.postMessage(servers.map((s) => s.address().port));
  });
}
parentPort.on('message', (m) => { if (m === 'close') { for (const s of servers) s.closeAllConnections(), s.close(); parentPort.postMessage('closed'); } });
`;

/** Starts `endpoints` receivers (the one at index `hung` never answers) for up to `capacity` delivery indexes. */
export async function startBenchReceivers(endpoints: number, capacity: number, hung = -1): Promise<BenchReceivers> {
  const counts = new SharedArrayBuffer(8);
  const times = new SharedArrayBuffer(capacity * 8);
  const worker = new Worker(WORKER, { eval: true, workerData: { endpoints, hung, counts, times } });
  const ports = await new Promise<number[]>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const c = new Int32Array(counts);
  const t = new Float64Array(times);
  return {
    urls: ports.map((p) => `http://127.0.0.1:${p}`),
    requests: () => Atomics.load(c, 0),
    distinct: () => Atomics.load(c, 1),
    arrivedAt: (i) => t[i],
    close: async () => {
      worker.postMessage('close');
      await new Promise((resolve) => worker.once('message', resolve));
      await worker.terminate();
    },
  };
}

/** A keep-alive endpoint in this process: `ok` answers 200 at once, `slow` after `slowMs`, `hang` never. */
export type TimingReply = 'ok' | 'slow' | 'hang';

/** A keep-alive endpoint in this process that times each webhook by the `agentInteractionId` its payload carries. */
export interface TimingReceiver {
  url: string;
  arrivedAt: Map<string, number>;
  close(): Promise<void>;
}

/** Starts a {@link TimingReceiver} on a port of its own (an origin of its own); `path` is appended to its URL. */
export async function startTimingReceiver(reply: TimingReply = 'ok', slowMs = 0, path = ''): Promise<TimingReceiver> {
  const arrivedAt = new Map<string, number>();
  const server: Server = createServer({ keepAlive: true }, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = /"agentInteractionId":"([^"]+)"/.exec(Buffer.concat(chunks).toString())?.[1];
      if (id && !arrivedAt.has(id)) arrivedAt.set(id, Date.now());
      if (reply === 'hang') return;
      const answer = () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      };
      if (reply === 'slow') setTimeout(answer, slowMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}${path}`,
    arrivedAt,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
