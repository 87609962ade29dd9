import type { INestApplication } from '@nestjs/common';
import { ValidationPipe } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { VnaConfig } from '#vna/config';
import { ProblemFilter } from './problem.filter.js';

/**
 * HTTP set-up shared by every app: problem+json errors, DTO validation, OpenAPI at /api/docs,
 * listening on VNA_BIND:VNA_HTTP_PORT. STOW-RS bodies are not parsed here (they stream).
 */
export async function listenHttp(app: INestApplication, config: VnaConfig, options: { docs: boolean }): Promise<void> {
  app.useGlobalFilters(new ProblemFilter());
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
