import type { IncomingMessage } from 'node:http';
import type { VnaConfig } from '#vna/config';

/** The DICOMweb base URL as the client sees it: VNA_PUBLIC_URL when set, else from the request. */
export function dicomwebBase(config: VnaConfig, req: IncomingMessage): string {
  if (config.http.publicUrl) return `${config.http.publicUrl}/dicomweb`;
  const forwardedProto = String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim();
  const proto = forwardedProto || ((req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
  const host = req.headers.host ?? `${config.bind}:${config.http.port}`;
  return `${proto}://${host}/dicomweb`;
}
