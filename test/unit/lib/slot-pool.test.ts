import { SlotPool } from '../../../src/lib/slot-pool';

/** A task that runs until `finish()`, recording when it started. */
function gate(log: string[], name: string): { task: () => Promise<string>; finish: () => void } {
  let finish = (): void => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    task: async () => {
      log.push(name);
      await done;
      return name;
    },
    finish: () => finish(),
  };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('SlotPool', () => {
  it('runs at most `size` tasks at once and starts the next one as a slot frees', async () => {
    const pool = new SlotPool(2);
    const log: string[] = [];
    const [a, b, c] = ['a', 'b', 'c'].map((n) => gate(log, n)) as [ReturnType<typeof gate>, ReturnType<typeof gate>, ReturnType<typeof gate>];
    const runs = [pool.run(a.task), pool.run(b.task), pool.run(c.task)];
    await tick();
    expect(log).toEqual(['a', 'b']);
    expect([pool.running, pool.queued]).toEqual([2, 1]);
    a.finish();
    await tick();
    expect(log).toEqual(['a', 'b', 'c']);
    b.finish();
    c.finish();
    await expect(Promise.all(runs)).resolves.toEqual(['a', 'b', 'c']);
    expect([pool.running, pool.queued]).toEqual([0, 0]);
  });

  it('gives a free slot to the lowest priority number first, in call order within a priority', async () => {
    const pool = new SlotPool(1);
    const log: string[] = [];
    const holder = gate(log, 'holder');
    const first = pool.run(holder.task, 1);
    const waiting = [
      ['call 1', 1],
      ['job 1', 0],
      ['call 2', 1],
      ['job 2', 0],
    ].map(([name, priority]) =>
      pool.run(() => {
        log.push(name as string);
        return Promise.resolve();
      }, priority as number),
    );
    await tick();
    holder.finish();
    await Promise.all([first, ...waiting]);
    expect(log).toEqual(['holder', 'job 1', 'job 2', 'call 1', 'call 2']);
  });

  it('frees the slot of a task that throws', async () => {
    const pool = new SlotPool(1);
    await expect(pool.run(() => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    await expect(pool.run(() => Promise.resolve('next'))).resolves.toBe('next');
    expect(pool.running).toBe(0);
  });

  it('refuses a pool without slots', () => {
    expect(() => new SlotPool(0)).toThrow('at least one slot');
  });
});
