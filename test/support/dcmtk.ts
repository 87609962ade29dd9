import { spawn } from 'node:child_process';

export interface ToolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a dcmtk tool (storescu, findscu, movescu, getscu, echoscu, storescp, dcmconv, ...).
 * TCP_NODELAY=1 is set: dcmtk leaves Nagle on otherwise (../shared/peers/README.md).
 */
export function dcmtk(tool: string, args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { cwd: options.cwd, env: { ...process.env, TCP_NODELAY: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Starts a long-running dcmtk tool (storescp as a C-MOVE destination); returns a stopper. */
export function dcmtkDaemon(tool: string, args: readonly string[], cwd?: string): { stop: () => Promise<void>; output: () => string } {
  const child = spawn(tool, args, { cwd, env: { ...process.env, TCP_NODELAY: '1' } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
  child.stderr.on('data', (d: Buffer) => (out += d.toString('latin1')));
  return {
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
