/**
 * The report as CSV (RFC 4180: comma-separated, CRLF, quoted where needed), UTF-8 with a byte
 * order mark: without it Excel, which most offices open a CSV in, reads "Lạng Sơn" as
 * Windows-1252 mojibake. Numbers use a full stop whatever the language, so the file parses the
 * same everywhere; the words and headings are in the report's language.
 */
import type { ComplianceReport } from './compliance-report.js';
import type { ReportLabels } from './report-labels.js';
import { reportTable } from './report-table.js';
import type { Cell } from './report-table.js';

export const UTF8_BOM = '\uFEFF';

function field(cell: Cell): string {
  if (cell === null) return '';
  if (typeof cell === 'number') return String(cell);
  // A leading = + - @ would be a formula in a spreadsheet: a site named "=HYPERLINK(…)" stays text.
  const text = /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function reportCsv(report: ComplianceReport, labels: ReportLabels): string {
  const { header, rows } = reportTable(report, labels);
  return `${UTF8_BOM}${[header, ...rows].map((row) => row.map(field).join(',')).join('\r\n')}\r\n`;
}
