/**
 * The report as an XLSX workbook (exceljs): a sheet with the heading block (title, area,
 * period, time zone, when generated, notes) and the report's table with numbers as numbers and
 * number formats, frozen headings and a filter; a second sheet with the method. Written in
 * memory: a report is at most a few thousand rows.
 */
import ExcelJS from 'exceljs';
import type { ComplianceReport } from './compliance-report.js';
import type { ReportLabels } from './report-labels.js';
import { REPORT_COLUMNS, reportTable } from './report-table.js';

const MBPS_COLUMNS = new Set(['targetMbps', 'downloadMedian', 'downloadMean', 'uploadMedian', 'uploadMean']);
const COUNT_COLUMNS = new Set(['sites', 'sitesReporting', 'meets', 'below', 'insufficientData', 'noData', 'tests', 'failedTests', 'minTests']);

/** The first row of the table in the report sheet (1-based), after the heading block. */
export function tableStartRow(report: ComplianceReport): number {
  return 7 + report.notes.length;
}

export async function reportXlsx(report: ComplianceReport, labels: ReportLabels): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'speedwatch';
  workbook.created = new Date(report.generatedAt);
  const sheet = workbook.addWorksheet(labels.title.slice(0, 31).replace(/[\\/?*[\]:]/g, ' '), { pageSetup: { paperSize: 9, orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0 } });
  sheet.addRow([labels.title]).font = { bold: true, size: 14 };
  sheet.addRow([labels.area, report.area ?? labels.wholeFleet]);
  sheet.addRow([labels.range, `${report.range.firstDay} – ${report.range.lastDay}`]);
  sheet.addRow([labels.timeZone, report.range.timeZone]);
  sheet.addRow([labels.generatedAt, report.generatedAt]);
  for (const note of report.notes) sheet.addRow([labels.note(note)]).font = { italic: true, color: { argb: 'FFC62828' } };
  sheet.addRow([]);
  const { header, rows } = reportTable(report, labels);
  const headerRow = sheet.addRow(header);
  headerRow.font = { bold: true };
  headerRow.alignment = { wrapText: true, vertical: 'top' };
  for (const row of rows) sheet.addRow(row);
  REPORT_COLUMNS.forEach((column, index) => {
    const col = sheet.getColumn(index + 1);
    col.width = column === 'name' || column === 'siteArea' ? 32 : column === 'section' ? 16 : 14;
    if (MBPS_COLUMNS.has(column)) col.numFmt = '0.0';
    else if (COUNT_COLUMNS.has(column)) col.numFmt = '0';
    else if (column === 'shareAtTarget') col.numFmt = '0.0%';
  });
  const first = headerRow.number;
  sheet.views = [{ state: 'frozen', ySplit: first }];
  sheet.autoFilter = { from: { row: first, column: 1 }, to: { row: first + rows.length, column: REPORT_COLUMNS.length } };

  const method = workbook.addWorksheet(labels.method);
  method.getColumn(1).width = 120;
  method.addRow([labels.method]).font = { bold: true, size: 14 };
  for (const line of labels.methodLines(report.method)) method.addRow([line]).alignment = { wrapText: true };
  return Buffer.from(await workbook.xlsx.writeBuffer());
}
