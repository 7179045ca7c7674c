import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { Registry } from 'prom-client';
import type { BaseConfig } from '@triggers/config';
import type { HealthRegistry } from './health-checks';
import { APP_CONFIG, HEALTH_CHECKS, METRICS_REGISTRY } from './tokens';

/**
 * `/healthz` (readiness: 200 when every dependency answers, else 503), `/livez` (liveness: 503
 * when a consumer could not be restarted) and Prometheus `/metrics`.
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

  /**
   * Liveness: 200 while every part that cannot come back by itself is running (503 naming those
   * that are not, e.g. a consumer its engine could not restart). A dependency being down is
   * readiness's business, not a reason to restart.
   */
  @Get('livez')
  live(@Res() res: Response): void {
    const dead = this.checks
      .all()
      .filter((c) => c.live && !c.live())
      .map((c) => c.name);
    res.status(dead.length === 0 ? 200 : 503).json({ status: dead.length === 0 ? 'ok' : 'dead', app: this.config.app, ...(dead.length > 0 ? { dead } : {}) });
  }

  @Get('metrics')
  async metrics(@Res() res: Response): Promise<void> {
    res.setHeader('Content-Type', this.registry.contentType);
    res.send(await this.registry.metrics());
  }
}
