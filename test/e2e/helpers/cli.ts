/** Runs the real CLI as a child process (for kill -9 tests), and kills it at a chosen point. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');

export interface CliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  child: ChildProcess;
  done: Promise<CliExit>;
}

export function runCli(args: string[], env: Record<string, string>): CliRun {
  // node itself (not the tsx wrapper, which would leave its node child running after a SIGKILL).
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const done = new Promise<CliExit>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

/** Waits (bounded) until `ready()` says the kill point is reached, then SIGKILLs the child: no chance to clean up. */
export async function killAfter(run: CliRun, ready: () => boolean, timeoutMs = 30_000): Promise<CliExit> {
  const deadline = Date.now() + timeoutMs;
  while (!ready() && Date.now() < deadline && run.child.exitCode === null) await new Promise((r) => setTimeout(r, 2));
  run.child.kill('SIGKILL');
  return run.done;
}
