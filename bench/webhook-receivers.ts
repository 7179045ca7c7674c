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
