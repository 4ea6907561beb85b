/**
 * The chaos suite, bounded for CI (`npm run chaos` runs it at 20,000 people): each scenario syncs one
 * generated run into a CRM sandbox under seeded faults and must end with the same CRM state as a
 * fault-free sync of the same run, no duplicates, rows reconciling, and every failure given a reason.
 */
import { closeChaos, formatReport, runChaosScenario } from '../../chaos/scenario';
import { chaosScenarios } from '../../chaos/scenarios';

const PEOPLE = 1200;
const SEED = 2606;

afterAll(async () => {
  await closeChaos();
});

describe.each(['hubspot', 'salesforce'] as const)('chaos: %s', (crm) => {
  it.each(chaosScenarios(crm, PEOPLE, SEED).map((s) => [s.name, s] as const))(
    '%s: same final state as the fault-free sync, no duplicates, every row accounted for',
    async (_name, scenario) => {
      const report = await runChaosScenario(scenario);
      const injected = Object.values(report.faults.crm.injected).reduce((a, b) => a + b, 0) + Object.values(report.faults.leadpipe.injected).reduce((a, b) => a + b, 0);
      // A scenario that injected nothing proved nothing.
      expect(injected).toBeGreaterThan(0);
      if (!report.ok) throw new Error(formatReport(report));
      expect(report.sameState).toBe(true);
      expect(report.newDuplicates).toEqual([]);
      expect(report.reconciles).toBe(true);
      expect(report.unexplained).toBe(0);
      expect(report.passes.at(-1)).toMatchObject({ status: 'succeeded', failed: 0, rows: PEOPLE });
    },
    180_000,
  );
});
