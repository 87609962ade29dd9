import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { ObjectUnavailableError, QueryValueError } from '#vna/archive';
import { AccessDeniedError } from '#vna/auth';
import { DicomwebError, MultipartError } from '#vna/dicomweb';

/** What an error means at the HTTP edge: status, extra headers, and a message safe to show. */
export interface HttpProblem {
  readonly status: number;
  readonly detail: string;
  readonly headers?: Record<string, string>;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Domain errors carry a `kind` (STYLE.md: libs never throw HttpException); this is its HTTP meaning. */
const KIND_STATUS: Record<string, number> = { invalid: 400, 'not-found': 404, conflict: 409, unavailable: 503 };

/** Domain errors to HTTP; each lib keeps its own errors free of HTTP (STYLE.md). Extended by later edges. */
export function toProblem(e: unknown): HttpProblem | undefined {
  if (e instanceof AccessDeniedError) return { status: e.status, detail: e.message, headers: e.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {} };
  if (e instanceof DicomwebError) return { status: e.status, detail: e.message, headers: e.headers };
  if (e instanceof MultipartError) return { status: e.httpStatus, detail: e.message };
  if (e instanceof QueryValueError) return { status: 400, detail: e.message };
  if (e instanceof ObjectUnavailableError) return { status: 503, detail: e.message, headers: { 'Retry-After': String(e.retryAfterSeconds) } };
  const kind = (e as { kind?: unknown } | undefined)?.kind;
  if (e instanceof Error && typeof kind === 'string' && kind in KIND_STATUS) return { status: KIND_STATUS[kind]!, detail: e.message };
  if (e instanceof HttpException) {
    const response = e.getResponse();
    const message = typeof response === 'object' && response && 'message' in response ? (response as { message: unknown }).message : e.message;
    return { status: e.getStatus(), detail: Array.isArray(message) ? message.join('; ') : String(message) };
  }
  return undefined;
}

/** Every HTTP error leaves as application/problem+json (RFC 9457). */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ServerResponse>();
    const req = host.switchToHttp().getRequest<{ method?: string; url?: string }>();
    const problem = toProblem(exception) ?? { status: 500, detail: 'internal error' };
    if (problem.status >= 500) {
      this.logger.error(`${req.method} ${req.url?.split('?')[0]}: ${(exception as Error).stack ?? String(exception)}`);
    }
    if (res.headersSent) {
      res.destroy(exception instanceof Error ? exception : undefined);
      return;
    }
    const body = JSON.stringify({ type: 'about:blank', title: TITLES[problem.status] ?? 'Error', status: problem.status, detail: problem.detail });
    res.writeHead(problem.status, { 'Content-Type': 'application/problem+json', 'Content-Length': Buffer.byteLength(body).toString(), ...problem.headers });
    res.end(body);
  }
}
