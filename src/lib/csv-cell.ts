/** One RFC 4180 cell: quoted when it holds a comma, a quote, CR or LF; inner quotes doubled. */
export function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
