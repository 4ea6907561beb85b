/**
 * Topic names from an `intent.matchedTopics` cell. The CSV encoding is undocumented (leadpipe-api.md
 * §7.4), so all the shapes seen are accepted: a JSON array of names (`["CRM","ABM"]`), a JSON array of
 * topic objects (`[{"topicId":1,"topicName":"CRM"}]`, as in preview samples), or a list delimited by `;`
 * or `|`. A value that is neither is one topic. Names are trimmed, empties dropped, and duplicates
 * (ignoring case) removed, keeping the first spelling.
 */
const DELIMITERS = /[;|]/;

function fromJson(text: string): string[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const names: string[] = [];
  for (const item of parsed as unknown[]) {
    if (typeof item === 'string') names.push(item);
    else if (typeof item === 'object' && item !== null && 'topicName' in item && typeof item.topicName === 'string') names.push(item.topicName);
  }
  return names;
}

export function parseTopics(raw: string): string[] {
  const text = raw.trim();
  if (text === '') return [];
  const items = (text.startsWith('[') ? fromJson(text) : undefined) ?? text.split(DELIMITERS);
  const topics: string[] = [];
  // Lists are short (a handful of topics), so a linear scan beats building a Set per row.
  const seen: string[] = [];
  for (const item of items) {
    const name = item.trim();
    if (name === '') continue;
    const id = name.toLowerCase();
    if (seen.includes(id)) continue;
    seen.push(id);
    topics.push(name);
  }
  return topics;
}
