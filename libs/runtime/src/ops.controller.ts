import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { Registry } from 'prom-client';
import type { BaseConfig } from '@triggers/config';
import type { HealthRegistry } from './health-checks';
import { APP_CONFIG, HEALTH_CHECKS, METRICS_REGISTRY } from './tokens';

/**
 * `/healthz` (readiness: 200 when every dependency answers, else 503), `/livez` (liveness: the
 * process answers) and Prometheus `/metrics`.
 */
@Controller()
export class OpsController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: BaseConfig,
    @Inject(HEALTH_CHECKS) private readonly checks: HealthRegistry,
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
  ) {}

  @Get('healthz')
  async health(@Res() res: Response): Promise<void> {
    const results = await Promise.all(this.checks.all().map(async (c) => [c.name, await c.check()] as const));
    const ok = results.every(([, r]) => r.ok);
    res.status(ok ? 200 : 503).json({
      status: ok ? 'ok' : 'unavailable',
      app: this.config.app,
      checks: Object.fromEntries(results),
    });
  }

  /** The process is alive; a dependency being down is readiness's business, not a reason to restart. */
  @Get('livez')
  live(): { status: 'ok'; app: string } {
    return { status: 'ok', app: this.config.app };
  }

  @Get('metrics')
  async metrics(@Res() res: Response): Promise<void> {
    res.setHeader('Content-Type', this.registry.contentType);
    res.send(await this.registry.metrics());
  }
}
