import { AccessStore, Permission } from '@triggers/access';
import { AppProcess, freePort, startApp, waitForHealthy } from './app-process';
import type { TestContext } from './test-context';

/** A JSON response: status, headers and parsed body. */
export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** Calls the API with a key, the way a tenant's script would. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly key?: string,
  ) {}

  withKey(key: string | undefined): ApiClient {
    return new ApiClient(this.baseUrl, key);
  }

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse<T>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(this.key ? { authorization: `Bearer ${this.key}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  }

  get<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('GET', path, undefined, headers);
  }
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body, headers);
  }
  put<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('PUT', path, body, headers);
  }
  patch<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('PATCH', path, body, headers);
  }
  delete<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('DELETE', path, undefined, headers);
  }
}

/** Starts triggers-api for a test context on a free port and waits until it is healthy. */
export async function startApi(ctx: TestContext, env: Record<string, string> = {}, { healthy = true } = {}): Promise<{ app: AppProcess; client: ApiClient }> {
  const port = await freePort();
  const app = startApp('triggers-api', { ...ctx.env, PORT: String(port), ...env });
  if (healthy) await waitForHealthy(app);
  else await waitForListening(port);
  return { app, client: new ApiClient(`http://127.0.0.1:${port}`) };
}

async function waitForListening(port: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`nothing listens on port ${port}`);
}

/** Creates a tenant and a key with the given permissions in the context's database. */
export async function createTenantKey(ctx: TestContext, tenantId: string, permissions: Permission[] = ['triggers:read', 'triggers:write']): Promise<string> {
  const { db } = await ctx.mongo();
  const store = new AccessStore(db);
  if (!(await store.getTenant(tenantId))) await store.createTenant(tenantId);
  return (await store.createKey(tenantId, permissions)).key;
}
