/**
 * Header cells → column plan. Leadpipe's CSV header is not documented (leadpipe-api.md §7.4), so columns
 * are matched by name, never by position: each cell is compared, ignoring case, spaces, dots, dashes and
 * underscores, with every canonical field name and its aliases from `config/columns.json`. Columns that
 * match nothing are kept as extra fields under their header text.
 *
 * Pure: the plan is computed once per file and every row is then read through it by index.
 */
import type { ColumnAliases } from '../config';
import { FixInputFileError } from '../lib/errors';
import { displayCell, maskCell } from './mask-cell';
import { CANONICAL_FIELDS, EMAIL_FIELDS, type CanonicalField } from './types';

export interface PlannedColumn {
  /** 0-based position in the row. */
  index: number;
  /** The header cell as written (trimmed, without a BOM). */
  header: string;
  /** The canonical field this column feeds, or null for an extra (unknown) column. */
  field: CanonicalField | null;
}

export interface ColumnPlan {
  /** Number of columns in the header; every row must have exactly this many. */
  width: number;
  /** One entry per column, in file order. */
  columns: readonly PlannedColumn[];
  /** Canonical field → its column index, for the fields the file has. */
  indexOf: Readonly<Partial<Record<CanonicalField, number>>>;
  /** The unknown columns, kept on the person as `extra[header]`. */
  extras: readonly PlannedColumn[];
}

const IGNORED_IN_NAMES = /[\s._-]+/g;

/** The form header cells and aliases are compared in: `Company_Name`, `company name`, `company.name` → `companyname`. */
export function normalizeHeaderName(name: string): string {
  return name.toLowerCase().replace(IGNORED_IN_NAMES, '');
}

const SCORE_FIELD: CanonicalField = 'intent.score';
const IDENTITY_FIELDS: readonly CanonicalField[] = ['hashedEmail', ...EMAIL_FIELDS];

function quoted(names: readonly string[]): string {
  return names.map((n) => `"${n}"`).join(', ');
}

/** Canonical names first, then aliases; the first field to claim a normalized name keeps it. */
function buildLookup(aliases: ColumnAliases): Map<string, CanonicalField> {
  const lookup = new Map<string, CanonicalField>();
  for (const field of CANONICAL_FIELDS) lookup.set(normalizeHeaderName(field), field);
  for (const field of CANONICAL_FIELDS) {
    for (const alias of aliases[field] ?? []) {
      const key = normalizeHeaderName(alias);
      if (key !== '' && !lookup.has(key)) lookup.set(key, field);
    }
  }
  return lookup;
}

function acceptedNames(field: CanonicalField, aliases: ColumnAliases): string[] {
  return [field, ...(aliases[field] ?? [])];
}

/**
 * Resolves a header row. Throws one `FixInputFileError` (CSV_HEADER_INVALID) that lists every problem:
 * empty header cells, duplicate columns (same name, same normalized name, or two columns for the same
 * field), no `intent.score` column, no identity column (hashedEmail or an email column).
 */
export function resolveHeader(cells: readonly string[], aliases: ColumnAliases): ColumnPlan {
  const lookup = buildLookup(aliases);
  const problems: string[] = [];
  const problemColumns: string[] = [];
  const columns: PlannedColumn[] = [];
  const indexOf: Partial<Record<CanonicalField, number>> = {};
  const byNormalized = new Map<string, PlannedColumn>();

  cells.forEach((cell, index) => {
    const header = (index === 0 ? cell.replace(/^\uFEFF/, '') : cell).trim();
    const column: PlannedColumn = { index, header, field: null };
    columns.push(column);
    if (header === '') {
      problems.push(`column ${index + 1} of the header has no name; every column needs one`);
      problemColumns.push(`column ${index + 1}`);
      return;
    }
    const normalized = normalizeHeaderName(header);
    const sameName = byNormalized.get(normalized);
    if (sameName) {
      problems.push(
        header === sameName.header
          ? `column ${displayCell(header)} appears twice (columns ${sameName.index + 1} and ${index + 1})`
          : `columns ${displayCell(sameName.header)} (column ${sameName.index + 1}) and ${displayCell(header)} (column ${index + 1}) are the same name once case, spaces, dots, dashes and underscores are ignored`,
      );
      problemColumns.push(maskCell(header));
      return;
    }
    byNormalized.set(normalized, column);
    const field = lookup.get(normalized) ?? null;
    if (field === null) return;
    const taken = indexOf[field];
    if (taken !== undefined) {
      const first = columns[taken];
      problems.push(
        `columns ${displayCell(first?.header ?? '')} (column ${taken + 1}) and ${displayCell(header)} (column ${index + 1}) both map to the field "${field}"; remove one or rename it`,
      );
      problemColumns.push(maskCell(header));
      return;
    }
    column.field = field;
    indexOf[field] = index;
  });

  if (indexOf[SCORE_FIELD] === undefined) {
    problems.push(`no "${SCORE_FIELD}" column: the header needs one of ${quoted(acceptedNames(SCORE_FIELD, aliases))}`);
    problemColumns.push(SCORE_FIELD);
  }
  if (IDENTITY_FIELDS.every((f) => indexOf[f] === undefined)) {
    const names = IDENTITY_FIELDS.map((f) => `${f} (${quoted(acceptedNames(f, aliases))})`).join('; ');
    problems.push(`no identity column: the header needs hashedEmail or an email column, one of: ${names}`);
    problemColumns.push(IDENTITY_FIELDS.join('|'));
  }

  if (problems.length > 0) {
    throw new FixInputFileError(
      'CSV_HEADER_INVALID',
      `The CSV header is invalid: ${problems.join('; ')}. Fix the file's header or add aliases in config/columns.json.`,
      { column: problemColumns[0] },
    );
  }
  return { width: columns.length, columns, indexOf, extras: columns.filter((c) => c.field === null) };
}
