import { InspectReportBuilder, scoreBucket } from '../../../src/inspect/build-report';
import { formatReport } from '../../../src/inspect/format-report';
import type { IntentPerson } from '../../../src/ingest/types';

function person(over: Partial<IntentPerson>): IntentPerson {
  return { key: 'a'.repeat(64), emails: [], company: {}, score: 70, topics: [], extra: {}, line: 2, rows: 1, ...over };
}

const totals = { rows: 5, valid: 4, quarantined: 1, duplicates: 1, people: 3 };

describe('InspectReportBuilder', () => {
  it('buckets scores on the documented edges', () => {
    expect([1, 49, 50, 69, 70, 89, 90, 100].map(scoreBucket)).toEqual(['1-49', '1-49', '50-69', '50-69', '70-89', '70-89', '90-100', '90-100']);
  });

  it('computes fill rates over people, a score histogram and top topics', () => {
    const b = new InspectReportBuilder({ maxListedRows: 10, topTopics: 2 });
    b.addPerson(person({ firstName: 'Ann', score: 95, topics: ['CRM', 'ROI'], extra: { region: 'EU' } }));
    b.addPerson(person({ score: 55, topics: ['CRM'] }));
    b.addPerson(person({ firstName: 'Bo', score: 72, topics: ['Ads', 'CRM', 'ROI'] }));
    const report = b.finish({ file: 'x.csv' }, totals);
    expect(report.fillRates.firstName).toBe(66.67);
    expect(report.fillRates.jobTitle).toBe(0);
    expect(report.fillRates.region).toBe(33.33);
    expect(report.scoreHistogram).toEqual({ '1-49': 0, '50-69': 1, '70-89': 1, '90-100': 1 });
    expect(report.topTopics).toEqual([
      { topic: 'CRM', people: 3 },
      { topic: 'ROI', people: 2 },
    ]);
  });

  it('counts every quarantined row but lists only the first ones', () => {
    const b = new InspectReportBuilder({ maxListedRows: 2, topTopics: 5 });
    for (const line of [3, 7, 9]) b.addQuarantined({ line, field: 'intent.score', code: 'INVALID_SCORE', reason: 'score "abc" is not an integer 1–100' });
    const report = b.finish({ file: 'x.csv' }, { ...totals, quarantined: 3 });
    expect(report.quarantinedRows.map((r) => r.line)).toEqual([3, 7]);
    expect(report.quarantinedRowsNotListed).toBe(1);
    const text = formatReport(report);
    expect(text).toContain('line 3');
    expect(text).toContain('and 1 more');
  });

  it('groups warnings by field and reason', () => {
    const b = new InspectReportBuilder({ maxListedRows: 2, topTopics: 5 });
    b.addWarning({ line: 2, field: 'personalEmail', reason: 'not a valid email address; dropped' });
    b.addWarning({ line: 5, field: 'personalEmail', reason: 'not a valid email address; dropped' });
    const report = b.finish({ file: 'x.csv' }, totals);
    expect(report.warnings).toBe(2);
    expect(report.warningsByReason).toEqual([{ field: 'personalEmail', reason: 'not a valid email address; dropped', rows: 2 }]);
  });
});
