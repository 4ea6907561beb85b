/**
 * Runs tasks so that two sharing a key never run at the same time: a task first waits for the tasks
 * started before it that hold any of its keys (whether they succeed or fail); tasks with no key in common
 * run alongside. A task only ever waits for earlier ones, so waits cannot go round in a circle.
 */
export class KeyTurns {
  /** Key → the latest task that holds it. */
  private readonly holders = new Map<string, Promise<unknown>>();

  run<T>(keys: Iterable<string>, fn: () => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)];
    const before = [...new Set(unique.map((k) => this.holders.get(k)).filter((p): p is Promise<unknown> => p !== undefined))];
    const turn = Promise.all(before.map((p) => p.catch(() => undefined))).then(fn);
    for (const k of unique) this.holders.set(k, turn);
    const release = (): void => {
      for (const k of unique) if (this.holders.get(k) === turn) this.holders.delete(k);
    };
    turn.then(release, release);
    return turn;
  }
}
