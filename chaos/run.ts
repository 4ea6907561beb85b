/**
 * `npm run chaos -- [--people N] [--seed S] [--crm hubspot|salesforce] [--only name,…] [--json]`: the chaos
 * suite. Each scenario syncs one generated run into a CRM sandbox under injected faults and compares the
 * result with a fault-free sync of the same run (chaos/scenario.ts). Exit code 1 when any scenario fails.
 * The bounded CI version is test/e2e/chaos.test.ts.
 */
import { parseArgs } from 'node:util';
import { closeChaos, formatReport, runChaosScenario, type ChaosReport, type ChaosScenario, type Crm } from './scenario';
import { chaosScenarios } from './scenarios';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      people: { type: 'string', default: '20000' },
      seed: { type: 'string', default: '606' },
      crm: { type: 'string' },
      only: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const people = Number(values.people);
  const seed = Number(values.seed);
  if (!Number.isInteger(people) || people < 1) throw new RangeError(`--people must be a positive integer, not ${values.people}`);
  if (!Number.isInteger(seed)) throw new RangeError(`--seed must be an integer, not ${values.seed}`);
  if (values.crm !== undefined && values.crm !== 'hubspot' && values.crm !== 'salesforce') throw new RangeError(`--crm must be hubspot or salesforce, not ${values.crm}`);
  const only = values.only?.split(',').map((s) => s.trim());
  const crms: Crm[] = values.crm === undefined ? ['hubspot', 'salesforce'] : [values.crm];
  const scenarios: ChaosScenario[] = crms.flatMap((crm) => chaosScenarios(crm, people, seed)).filter((s) => !only || only.includes(s.name));
  if (scenarios.length === 0) throw new RangeError(`no scenario matches --only ${values.only ?? ''}`);
  const reports: ChaosReport[] = [];
  for (const scenario of scenarios) {
    console.error(`running ${scenario.name} (${scenario.crm}, ${people.toLocaleString('en-US')} people)…`);
    const report = await runChaosScenario(scenario);
    reports.push(report);
    console.error(formatReport(report));
  }
  await closeChaos();
  if (values.json) console.log(JSON.stringify(reports, null, 2));
  const failed = reports.filter((r) => !r.ok);
  console.error(`\n${reports.length - failed.length} of ${reports.length} scenarios passed${failed.length > 0 ? `; failed: ${failed.map((r) => `${r.scenario} (${r.crm})`).join(', ')}` : ''}`);
  process.exitCode = failed.length > 0 ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 2;
});
