import type { NextFunction, Request, Response } from 'express';

/** Deepest JSON body accepted (a trigger nests 4 levels; the parameters text is checked apart). */
const MAX_BODY_DEPTH = 32;

const error = (res: Response, status: number, message: string, requestId?: string) => res.status(status).json({ error: message, requestId });

/**
 * Before any body is read: a body of another media type than JSON is a 415 (form-encoded bodies
 * never create triggers), and one announced larger than `maxBytes` a 413 naming the limit.
 */
export function hardenRequests(maxBytes: number) {
  return (req: Request & { id?: string }, res: Response, next: NextFunction): void => {
    const length = Number(req.headers['content-length'] ?? 0);
    const hasBody = length > 0 || req.headers['transfer-encoding'] !== undefined;
    if (hasBody) {
      const type = String(req.headers['content-type'] ?? '')
        .split(';')[0]
        .trim()
        .toLowerCase();
      if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
        error(res, 415, `the request body must be JSON (content-type: application/json), not ${type || 'untyped'}`, req.id);
        return;
      }
      if (length > maxBytes) {
        error(res, 413, `the request body is ${length} bytes; the limit is ${maxBytes} bytes (API_MAX_BODY_BYTES)`, req.id);
        return;
      }
    }
    next();
  };
}

/**
 * What the JSON parser refused, answered as the API answers errors: a body past the limit (one
 * sent without a length) is a 413, one that is not JSON a 400 saying where.
 */
export function bodyParseErrors(maxBytes: number) {
  return (err: { type?: string; message?: string; status?: number }, req: Request & { id?: string }, res: Response, next: NextFunction): void => {
    if (err?.type === 'entity.too.large')
      return void error(res, 413, `the request body is larger than the limit of ${maxBytes} bytes (API_MAX_BODY_BYTES)`, req.id);
    if (err?.type === 'entity.parse.failed')
      return void res.status(400).json({ error: 'the request body is not valid JSON', details: [{ path: 'body', message: err.message }], requestId: req.id });
    if (err?.status && err.status >= 400 && err.status < 500) return void error(res, err.status, err.message ?? 'bad request', req.id);
    next(err);
  };
}

/** A parsed body nested deeper than {@link MAX_BODY_DEPTH} is a 400, judged without recursion. */
export function rejectDeepJson(req: Request & { id?: string }, res: Response, next: NextFunction): void {
  const stack: [unknown, number][] = [[req.body, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > MAX_BODY_DEPTH) {
      error(res, 400, `the request body is nested deeper than ${MAX_BODY_DEPTH} levels`, req.id);
      return;
    }
    for (const child of Object.values(v as object)) stack.push([child, d + 1]);
  }
  next();
}

/** The OpenAPI page runs no one else's script and is never framed. */
export function docsHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader(
    'Content-Security-Policy',
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  );
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  next();
}
