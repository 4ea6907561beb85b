import { parseTopics } from '../../../src/ingest/parse-topics';

describe('parseTopics', () => {
  it('reads a JSON array of names', () => {
    expect(parseTopics('["CRM software", "Intent data"]')).toEqual(['CRM software', 'Intent data']);
  });

  it('reads a JSON array of topic objects (preview shape)', () => {
    expect(parseTopics('[{"topicId":117805,"topicName":"ABM platforms","type":"b2b"},{"topicId":9,"topicName":"Intent data"}]')).toEqual([
      'ABM platforms',
      'Intent data',
    ]);
  });

  it('reads ; and | delimited lists', () => {
    expect(parseTopics('CRM software; Intent data;ABM')).toEqual(['CRM software', 'Intent data', 'ABM']);
    expect(parseTopics('CRM software|Intent data | ABM')).toEqual(['CRM software', 'Intent data', 'ABM']);
    expect(parseTopics('CRM software;Intent data|ABM')).toEqual(['CRM software', 'Intent data', 'ABM']);
  });

  it('treats a plain value as one topic, commas included', () => {
    expect(parseTopics('CRM software')).toEqual(['CRM software']);
    expect(parseTopics('Sales, marketing and CRM')).toEqual(['Sales, marketing and CRM']);
  });

  it('trims, drops empties and dedupes ignoring case, keeping the first spelling', () => {
    expect(parseTopics(' CRM ;; crm;Intent Data;intent data ; ')).toEqual(['CRM', 'Intent Data']);
    expect(parseTopics('["ABM", "", "abm", " Intent ", {"topicName": "INTENT"}, 42, null]')).toEqual(['ABM', 'Intent']);
    expect(parseTopics('')).toEqual([]);
    expect(parseTopics('[]')).toEqual([]);
  });

  it('falls back to a delimited list when a value only looks like JSON', () => {
    expect(parseTopics('[beta] CRM;ABM')).toEqual(['[beta] CRM', 'ABM']);
  });
});
