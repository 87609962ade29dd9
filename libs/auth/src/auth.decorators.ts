import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Role } from '#vna/config';
import type { Principal } from './api-key.store.js';

export const PUBLIC_KEY = 'vna:public';
export const ROLE_KEY = 'vna:role';

/** No key needed (health and metrics only). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_KEY, true);

/** The least role allowed (reader < writer < admin). Routes without it need `reader`. */
export const RequireRole = (role: Role): MethodDecorator & ClassDecorator => SetMetadata(ROLE_KEY, role);

/** The authenticated caller. */
export const Caller = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  return (ctx.switchToHttp().getRequest<{ principal: Principal }>()).principal;
});
