import type { IncomingMessage } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { ValidationPipe } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { VnaConfig } from '#vna/config';
import { ProblemFilter } from './problem.filter.js';

/**
 * A body parser's media type test that leaves /dicomweb alone: DICOMweb handlers read the raw
 * request stream (STOW-RS) and answer a media type they do not take with 415 (PS3.18 10.5);
 * a JSON parser running first would answer 400 for a body it cannot parse, or swallow the stream.
 */
function outsideDicomweb(mediaType: RegExp): (req: IncomingMessage) => boolean {
  return (req) => !/^\/dicomweb(\/|\?|$)/.test(req.url ?? '') && mediaType.test(req.headers['content-type'] ?? '');
}

/**
 * HTTP set-up shared by every app: problem+json errors, DTO validation, OpenAPI at /api/docs,
 * listening on VNA_BIND:VNA_HTTP_PORT. DICOMweb bodies are not parsed here (STOW-RS streams).
 */
export async function listenHttp(app: INestApplication, config: VnaConfig, options: { docs: boolean }): Promise<void> {
  app.useGlobalFilters(new ProblemFilter());
  // Nest's own parsers are off (runApp): these are the same parsers, minus /dicomweb.
  (app as NestExpressApplication)
    .useBodyParser('json', { type: outsideDicomweb(/^application\/json\s*(;|$)/i) })
    .useBodyParser('urlencoded', { extended: true, type: outsideDicomweb(/^application\/x-www-form-urlencoded\s*(;|$)/i) });
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
  app.enableShutdownHooks();
  if (options.docs) {
    const document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Vendor-neutral archive')
        .setDescription('DICOMweb (PS3.18) under /dicomweb, administration under /api/v1. Every endpoint but /health/* and /metrics needs a bearer API key.')
        .addBearerAuth()
        .build(),
    );
    SwaggerModule.setup('api/docs', app, document);
  }
  await app.listen(config.http.port, config.bind);
}
