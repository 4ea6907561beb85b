/**
 * A write whose answer is lost: the first request to `route` is carried out, then its connection drops
 * half-way through the answer (the sandboxes' `reset` fault). `whileHeld` runs before that answer goes
 * out (the sandbox waits for it); `next` is the fault of the one request to `route` after it (the retry),
 * then no fault. Returns the observer's stop.
 */
import type { FaultConfig, SandboxObserver } from '../../../src/sandbox/faults';

interface FaultySandbox {
  setFaults(config: FaultConfig | null): void;
  observe(observer: SandboxObserver): () => void;
}

export function cutFirstAnswer(sb: FaultySandbox, route: string, options: { whileHeld?: () => void | Promise<void>; next?: FaultConfig['rates'] } = {}): () => void {
  const after = [options.next === undefined ? null : { seed: `next-${route}`, rates: options.next, routes: [route] }, null];
  sb.setFaults({ seed: `cut-${route}`, rates: { reset: 1 }, routes: [route] });
  let handled = 0;
  return sb.observe(async (event) => {
    if (event.route !== route || event.phase !== 'handled' || handled >= after.length) return;
    sb.setFaults(after[handled++] ?? null);
    if (handled === 1) await options.whileHeld?.();
  });
}
