import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '@triggers/logging';

/**
 * Gives every request an id (the caller's `x-request-id` when it sends one), returns it in the
 * response header and logs one line per request with method, path, status, duration and tenant.
 */
export function requestLog(logger: Logger) {
  return (req: Request & { id?: string; caller?: { tenantId: string } }, res: Response, next: NextFunction) => {
    const incoming = req.headers['x-request-id'];
    req.id = typeof incoming === 'string' && /^[\w.-]{1,100}$/.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', req.id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const path = req.originalUrl.split('?')[0];
      if (path === '/healthz' || path === '/metrics') return;
      logger.info(
        {
          requestId: req.id,
          method: req.method,
          path,
          status: res.statusCode,
          durationMs: Number(process.hrtime.bigint() - started) / 1e6,
          tenantId: req.caller?.tenantId,
        },
        'request',
      );
    });
    next();
  };
}
