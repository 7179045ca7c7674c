import type { AppProcess } from '@triggers/local-infra';
import { startHealthyApp, waitFor } from '@triggers/local-infra';
import { PipelineDriver } from './pipeline-helpers';
import type { TestContext } from './test-context';
import { ReceivedWebhook, ReceiverReply, WebhookReceiver, startWebhookReceiver } from './webhook-receiver';

/** What a pipeline test drives: apps, a webhook receiver and the topics, all stopped after its tests. */
export interface Harness {
  /** Publishes triggers, events and commands as the apps would. */
  readonly driver: PipelineDriver;
  /** A webhook receiver started before the tests. */
  readonly receiver: WebhookReceiver;
  /** Starts an app with the context's environment (plus `env`) and waits until it is healthy. */
  start(name: string, env?: Record<string, string>): Promise<AppProcess>;
}

/**
 * Registers the before/after hooks of a pipeline test and returns its harness: the driver and a
 * receiver (answering with `reply`, 200 by default) come up before the tests, and every app
 * started and the receiver are stopped after them.
 */
export function useHarness(ctx: () => TestContext, opts: { reply?: (req: ReceivedWebhook, index: number) => ReceiverReply } = {}): Harness {
  let driver: PipelineDriver | undefined;
  let receiver: WebhookReceiver | undefined;
  const apps: AppProcess[] = [];
  beforeAll(async () => {
    driver = new PipelineDriver(ctx());
    receiver = await startWebhookReceiver(opts.reply);
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await receiver?.close();
    await driver?.close();
  });
  return {
    get driver() {
      return driver!;
    },
    get receiver() {
      return receiver!;
    },
    async start(name, env = {}) {
      const app = await startHealthyApp(ctx().env, name, env);
      apps.push(app);
      return app;
    },
  };
}

/** Waits until `app` (a matcher or a dispatcher) holds `count` triggers from the config topic, by its /healthz. */
export async function waitForTriggers(app: AppProcess, count: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      const health = (await (await fetch(`http://127.0.0.1:${app.port}/healthz`)).json()) as { checks: Record<string, { detail?: { triggers?: number } }> };
      return health.checks.triggerConfig?.detail?.triggers === count;
    },
    { timeoutMs, description: `${count} trigger(s) in ${app.name}` },
  );
}
