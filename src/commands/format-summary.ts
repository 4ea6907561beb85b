/** The sync summary as text for a person (the CLI's default; `--json` prints the object instead). */
import type { SyncSummary } from '../sync/run-sync';

const n = (v: number): string => v.toLocaleString('en-US');

/** Salesforce: lookup and write calls (queries, Composite, Collections; accounts and opportunities excluded) per 200 people written. */
export function callsPer200(summary: SyncSummary): number | undefined {
  const people = summary.created + summary.updated;
  if (people === 0) return undefined;
  const calls = Object.entries(summary.apiCalls.byEndpoint)
    .filter(([endpoint]) => /composite|query/i.test(endpoint) && !/Account|Opportunity/.test(endpoint))
    .reduce((a, [, c]) => a + c, 0);
  return (calls / people) * 200;
}

/** Calls per 100 people written, for contacts + companies + associations (deals and setup excluded). */
export function callsPer100(summary: SyncSummary): number | undefined {
  const people = summary.created + summary.updated;
  if (people === 0) return undefined;
  const calls = Object.entries(summary.apiCalls.byEndpoint)
    .filter(([endpoint]) => /\/objects\/(contacts|companies)\/|\/associations\/contacts\/companies\//.test(endpoint))
    .reduce((a, [, c]) => a + c, 0);
  return (calls / people) * 100;
}

export function formatSummary(s: SyncSummary, options: { planRows?: number } = {}): string {
  const lines: string[] = [];
  const title = s.status === 'dry-run' ? 'Dry run (nothing was written)' : `Sync ${s.syncRunId ?? ''} ${s.status}${s.resumed ? ' (resumed an interrupted sync)' : ''}`;
  lines.push(title);
  lines.push(`  source        ${s.audienceId === null ? s.runId : `audience ${s.audienceId}, run ${s.runId}`} → ${s.destination}`);
  lines.push(`  rows          ${n(s.rows)} = ${n(s.quarantined)} quarantined + ${n(s.duplicates)} duplicates + ${n(s.unchanged)} unchanged + ${n(s.created)} created + ${n(s.updated)} updated + ${n(s.skipped)} skipped + ${n(s.failed)} failed`);
  if (s.destination === 'salesforce') {
    lines.push(`  opportunities ${n(s.deals.prioritized)} updated with intent (${n(s.deals.raised)} priority raised); ${n(s.deals.closedSkipped)} closed ones of these people left alone`);
    const per200 = callsPer200(s);
    lines.push(`  API calls     ${n(s.apiCalls.total)}${per200 === undefined ? '' : ` (${per200.toFixed(2)} lookups + writes per 200 people written)`}`);
  } else {
    lines.push(`  companies     ${n(s.companies.matched)} matched, ${n(s.companies.created)} created; ${n(s.associations)} contact→company associations`);
    lines.push(`  deals         ${n(s.deals.prioritized)} updated with intent (${n(s.deals.raised)} priority raised); ${n(s.deals.closedSkipped)} closed deals of these people left alone`);
    const per100 = callsPer100(s);
    lines.push(
      `  API calls     ${n(s.apiCalls.total)}${per100 === undefined ? '' : ` (${per100.toFixed(2)} per 100 people written, deals excluded)`}; ${n(s.rateLimited)} rate-limited (429) and retried`,
    );
  }
  lines.push(`  duration      ${(s.durationMs / 1000).toFixed(1)} s`);
  if (s.message) lines.push(`  note          ${s.message}`);
  if (s.plan) {
    const max = options.planRows ?? 20;
    const shown = s.plan.filter((p) => p.action !== 'unchanged').slice(0, max);
    if (shown.length > 0) lines.push('', `  first ${shown.length} planned changes (--json lists all):`);
    for (const item of shown) {
      const changes = item.changes.map((c) => `${c.property}: ${c.before ?? '∅'} → ${c.after}`).join('; ');
      const company = item.company ? ` [company ${item.company.domain}: ${item.company.action}]` : '';
      lines.push(`    line ${item.line} ${item.action}${item.crmRecordId ? ` contact ${item.crmRecordId}` : ''}${company}${item.reason ? ` — ${item.reason}` : ''}${changes ? `\n      ${changes}` : ''}`);
    }
    for (const deal of (s.dealPlan ?? []).slice(0, max)) {
      lines.push(`    deal ${deal.dealId} ${deal.name ?? ''}: ${deal.changes.map((c) => `${c.property}: ${c.before ?? '∅'} → ${c.after}`).join('; ')}`);
    }
  }
  return lines.join('\n') + '\n';
}
