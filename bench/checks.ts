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
