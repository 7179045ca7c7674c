import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, tap } from 'rxjs';

/** The trigger a response carries: the body itself, or its `trigger` (a secret rotation). */
const triggerOf = (body: unknown): { id?: unknown; version?: unknown } | undefined => {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as { id?: unknown; version?: unknown; trigger?: { id?: unknown; version?: unknown } };
  return typeof b.version === 'number' && typeof b.id === 'string' ? b : b.trigger;
};

/**
 * `ETag: "<version>"` on every response that carries one trigger, for the next `If-Match`. The
 * version names the trigger as saved, not the live parts a response carries beside it (its
 * endpoint health), so such a response is neither cached nor answered 304 for an `If-None-Match`.
 */
@Injectable()
export class ETagInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      tap((body) => {
        const trigger = triggerOf(body);
        if (typeof trigger?.version !== 'number' || typeof trigger.id !== 'string') return;
        const http = context.switchToHttp();
        const res = http.getResponse<{ setHeader(name: string, value: string): void }>();
        res.setHeader('ETag', `"${trigger.version}"`);
        if ('endpointHealth' in (body as object)) {
          res.setHeader('Cache-Control', 'no-store');
          delete http.getRequest<{ headers: Record<string, unknown> }>().headers['if-none-match'];
        }
      }),
    );
  }
}
