import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from '@triggers/logging';
import { APP_LOGGER } from '@triggers/runtime';
import { ApiError } from './api-errors';

/** The one shape of every error the API answers. */
export interface ErrorBody {
  error: string;
  details?: { path: string; message: string }[];
  requestId?: string;
}

/**
 * Answers every error in one JSON shape: `{ error, details?, requestId }`. Unexpected errors are
 * logged with the request id and answered without internals.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  constructor(@Inject(APP_LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<Request & { id?: string }>();
    const res = http.getResponse<Response>();
    const requestId = req.id;
    let status = 500;
    let body: ErrorBody = { error: 'internal error', requestId };
    if (exception instanceof ApiError) {
      status = exception.status;
      body = { error: exception.message, ...(exception.details ? { details: exception.details } : {}), requestId };
    } else if (exception instanceof HttpException) {
      status = exception.getStatus();
      const response = exception.getResponse() as string | { message?: string | string[] };
      const message =
        typeof response === 'string' ? response : Array.isArray(response.message) ? response.message.join('; ') : (response.message ?? exception.message);
      const isBodyParse = status === 400 && /JSON/i.test(message);
      body = isBodyParse ? { error: 'the request body is not valid JSON', details: [{ path: 'body', message }], requestId } : { error: message, requestId };
    } else if ((exception as { codeName?: string }).codeName === 'MaxTimeMSExpired') {
      // A query bounded by maxTimeMS (delivery stats) ran out of time: the caller can ask for less.
      status = 503;
      body = { error: 'the database took too long to answer; try a shorter window or again later', requestId };
    } else {
      this.logger.error({ err: exception, requestId, method: req.method, path: req.originalUrl }, 'unhandled error');
    }
    res.status(status).json(body);
  }
}
