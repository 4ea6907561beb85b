/** Acceptance checks printed PASS/FAIL by every benchmark and rendered by table.ts. */

export interface Check {
  /** What is checked, as the README states it. */
  name: string;
  value: number;
  op: '>=' | '<=' | '=';
  threshold: number;
  pass: boolean;
}

export function check(name: string, value: number, op: Check['op'], threshold: number): Check {
  const pass = op === '>=' ? value >= threshold : op === '<=' ? value <= threshold : value === threshold;
  return { name, value, op, threshold, pass };
}

export function printChecks(checks: readonly Check[]): void {
  for (const c of checks) console.log(`${c.pass ? 'PASS' : 'FAIL'}  ${c.name}: ${c.value} (${c.op} ${c.threshold})`);
}

/** What one measurement of a benchmark gives: its figures and its acceptance checks. */
export interface Measured {
  result: Record<string, unknown>;
  checks: Check[];
}

/**
 * Runs the measurements one after the other, prefixes each one's figures with its name, prints every
 * check and returns the benchmark's results (`out` holds the figures common to all of them).
 */
export async function collect(out: Record<string, unknown>, runs: ReadonlyArray<readonly [string, () => Promise<Measured>]>): Promise<Record<string, unknown>> {
  const checks: Check[] = [];
  const figures: Record<string, unknown> = { ...out };
  for (const [name, run] of runs) {
    const { result, checks: c } = await run();
    for (const [k, v] of Object.entries(result)) figures[`${name}.${k}`] = v;
    checks.push(...c);
  }
  printChecks(checks);
  return { ...figures, checks };
}
