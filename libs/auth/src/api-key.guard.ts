import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Role } from '#vna/config';
import { ApiKeyStore, type Principal, roleAllows } from './api-key.store.js';
import { PUBLIC_KEY, ROLE_KEY } from './auth.decorators.js';

/** Thrown for 401/403; the HTTP edge's exception filter turns it into a problem response. */
export class AccessDeniedError extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
    this.name = 'AccessDeniedError';
  }
}

/**
 * Every route needs `Authorization: Bearer <key>` unless marked @Public(); a missing or unknown
 * key is 401, a role too weak 403. Single sign-on can replace the store without touching routes.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(ApiKeyStore) private readonly keys: ApiKeyStore,
  ) {}

  canActivate(ctx: ExecutionContext): boolean {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const request = ctx.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; principal?: Principal }>();
    const header = request.headers['authorization'] ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new AccessDeniedError(401, 'an API key is required: Authorization: Bearer <key>');
    const principal = this.keys.authenticate(match[1]!);
    if (!principal) throw new AccessDeniedError(401, 'the API key is not valid');
    const need = this.reflector.getAllAndOverride<Role>(ROLE_KEY, targets) ?? 'reader';
    if (!roleAllows(principal.role, need)) throw new AccessDeniedError(403, `this needs the ${need} role`);
    request.principal = principal;
    return true;
  }
}
