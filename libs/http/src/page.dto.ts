import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** The most rows one page of an /api/v1 list returns. */
export const PAGE_MAX_LIMIT = 1000;

/** `limit` and `offset` of an /api/v1 list (query parameters); list DTOs extend it. */
export class PageDto {
  @ApiPropertyOptional({ default: 100, maximum: PAGE_MAX_LIMIT })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(PAGE_MAX_LIMIT)
  limit?: number;

  @ApiPropertyOptional({ default: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  offset?: number;
}
