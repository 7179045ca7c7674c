import { Server, Socket, createServer } from 'node:net';
import { freePort } from '@triggers/local-infra';

/** A TCP proxy on loopback in front of a real server, to make real outages: stopped, nothing answers its port. */
export interface TcpProxy {
  port: number;
  /** Accepts connections again and forwards them. */
  start(): Promise<void>;
  /** Closes the port and cuts every connection through it: clients see "connection refused". */
  stop(): Promise<void>;
  readonly running: boolean;
}

/**
 * A proxy from a free loopback port to `target` (host:port). Created stopped unless `running`,
 * so an app can be started while its dependency is down.
 */
export async function createTcpProxy(target: { host: string; port: number }, options: { running?: boolean } = {}): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const proxy: TcpProxy = {
    port,
    get running() {
      return server !== undefined;
    },
    async start() {
      if (server) return;
      const s = createServer((client) => {
        const upstream = new Socket();
        sockets.add(client).add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        upstream.connect(target.port, target.host, () => {
          client.pipe(upstream);
          upstream.pipe(client);
        });
      });
      await new Promise<void>((resolve, reject) => s.once('error', reject).listen(port, '127.0.0.1', resolve));
      server = s;
    },
    async stop() {
      const s = server;
      server = undefined;
      if (!s) return;
      const closed = new Promise((resolve) => s.close(resolve));
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await closed;
    },
  };
  if (options.running) await proxy.start();
  return proxy;
}
