/**
 * The report's words in Vietnamese and English: column headings, technologies, site kinds,
 * verdicts and the method, for the CSV, the XLSX and the command line. The console has its own
 * strings (collector/console/src/i18n.ts); these are what a filed document says.
 */
import type { ReportMethod, ReportNote } from './report-wire.js';

export type ReportLang = 'vi' | 'en';

export const REPORT_LANGS: readonly ReportLang[] = ['vi', 'en'];

export interface ReportLabels {
  title: string;
  area: string;
  wholeFleet: string;
  range: string;
  timeZone: string;
  generatedAt: string;
  totals: string;
  byKind: string;
  sites: string;
  method: string;
  columns: {
    section: string;
    technology: string;
    siteKind: string;
    agentId: string;
    name: string;
    siteArea: string;
    isp: string;
    targetMbps: string;
    sites: string;
    sitesReporting: string;
    meets: string;
    below: string;
    insufficientData: string;
    noData: string;
    tests: string;
    failedTests: string;
    minTests: string;
    downloadMedian: string;
    downloadMean: string;
    uploadMedian: string;
    uploadMean: string;
    shareAtTarget: string;
    verdict: string;
  };
  technology: Record<string, string>;
  siteKind: Record<string, string>;
  verdict: Record<string, string>;
  methodLines: (method: ReportMethod) => string[];
  note: (note: ReportNote) => string;
}

const VI: ReportLabels = {
  title: 'Báo cáo chất lượng băng rộng so với chỉ tiêu',
  area: 'Địa bàn',
  wholeFleet: 'Toàn bộ các điểm đo',
  range: 'Thời gian',
  timeZone: 'Múi giờ',
  generatedAt: 'Lập lúc',
  totals: 'Tổng hợp',
  byKind: 'Theo loại điểm',
  sites: 'Điểm đo',
  method: 'Phương pháp',
  columns: {
    section: 'Phần',
    technology: 'Công nghệ',
    siteKind: 'Loại điểm',
    agentId: 'Mã điểm đo',
    name: 'Tên điểm đo',
    siteArea: 'Địa bàn',
    isp: 'Nhà mạng',
    targetMbps: 'Chỉ tiêu tải xuống (Mbps)',
    sites: 'Số điểm',
    sitesReporting: 'Số điểm có số liệu',
    meets: 'Điểm đạt',
    below: 'Điểm không đạt',
    insufficientData: 'Điểm chưa đủ mẫu',
    noData: 'Điểm không có số liệu',
    tests: 'Số lần đo',
    failedTests: 'Số lần đo lỗi',
    minTests: 'Số lần đo tối thiểu',
    downloadMedian: 'Trung vị tải xuống (Mbps)',
    downloadMean: 'Trung bình tải xuống (Mbps)',
    uploadMedian: 'Trung vị tải lên (Mbps)',
    uploadMean: 'Trung bình tải lên (Mbps)',
    shareAtTarget: 'Tỷ lệ lần đo đạt chỉ tiêu',
    verdict: 'Kết luận',
  },
  technology: { fixed: 'Cố định', mobile: 'Di động' },
  siteKind: { school: 'Trường học', clinic: 'Cơ sở y tế', office: 'Cơ quan nhà nước', other: 'Khác' },
  verdict: { meets: 'Đạt', below: 'Không đạt', 'insufficient-data': 'Chưa đủ mẫu', 'no-data': 'Không có số liệu' },
  methodLines: ({ basis, minTestsSite: minSite, minTestsArea: minArea, samples }) => [
    basis === 'librespeed'
      ? 'Đơn vị: 1 Mbps = 10^6 bit/giây; tốc độ là dữ liệu tải (phần thân HTTP) nhân 1,06, như LibreSpeed hiển thị (bù phần đầu giao thức).'
      : 'Đơn vị: 1 Mbps = 10^6 bit/giây dữ liệu tải (phần thân HTTP), không tính phần đầu giao thức.',
    'Mỗi lần đo: tải xuống và tải lên qua HTTP tới máy chủ đo kiểu i-Speed (giao thức LibreSpeed), nhiều luồng song song, bỏ giai đoạn khởi động.',
    'Kết luận theo trung vị các lần đo trong khoảng thời gian: đạt khi trung vị không thấp hơn chỉ tiêu (cố định ≥ 102 Mbps, di động ≥ 42 Mbps theo kế hoạch).',
    'Số liệu địa bàn tính trên từng lần đo của mọi điểm đo trong địa bàn (như i-Speed công bố), không phải trung vị của các trung vị.',
    samples.mode === 'tests'
      ? 'Mỗi lần đo là một mẫu.'
      : `Mẫu đại diện (như VNNIC chuẩn hoá dữ liệu i-Speed): các lần đo của một điểm trong cùng ${samples.bucketMinutes} phút tính là một mẫu (trung vị của chúng); chỉ tính lần đo thành công; lần đo vượt tốc độ hợp đồng của điểm quá ${Math.round(samples.contractMargin * 100)}% bị loại.`,
    `Quy tắc mẫu tối thiểu: mỗi điểm đo cần ít nhất ${minSite} lần đo; địa bàn cấp tỉnh/huyện/xã cần ${minArea.slice(0, 3).join('/')} lần đo; ít hơn thì kết luận "Chưa đủ mẫu".`,
    'Lần đo lỗi được đếm riêng và không đưa vào số liệu. Điểm đo đã thu hồi không đưa vào báo cáo.',
  ],
  note: (note) =>
    note.code === 'retention'
      ? `Chưa đầy đủ: số liệu thô trước ${note.deletedBefore} đã bị xoá theo thời hạn lưu trữ.`
      : note.code === 'not-over'
        ? `Chưa đầy đủ: khoảng thời gian chưa kết thúc (số liệu đến ${note.at}).`
        : 'Không có điểm đo nào trong địa bàn.',
};

const EN: ReportLabels = {
  title: 'Broadband compliance report',
  area: 'Area',
  wholeFleet: 'All sites',
  range: 'Period',
  timeZone: 'Time zone',
  generatedAt: 'Generated at',
  totals: 'Totals',
  byKind: 'By site kind',
  sites: 'Sites',
  method: 'Method',
  columns: {
    section: 'Section',
    technology: 'Technology',
    siteKind: 'Site kind',
    agentId: 'Site id',
    name: 'Site name',
    siteArea: 'Area',
    isp: 'ISP',
    targetMbps: 'Download target (Mbps)',
    sites: 'Sites',
    sitesReporting: 'Sites reporting',
    meets: 'Sites meeting',
    below: 'Sites below',
    insufficientData: 'Sites with too few tests',
    noData: 'Sites without data',
    tests: 'Tests',
    failedTests: 'Failed tests',
    minTests: 'Minimum tests',
    downloadMedian: 'Median download (Mbps)',
    downloadMean: 'Mean download (Mbps)',
    uploadMedian: 'Median upload (Mbps)',
    uploadMean: 'Mean upload (Mbps)',
    shareAtTarget: 'Share of tests at target',
    verdict: 'Verdict',
  },
  technology: { fixed: 'Fixed', mobile: 'Mobile' },
  siteKind: { school: 'School', clinic: 'Clinic', office: 'State office', other: 'Other' },
  verdict: { meets: 'Meets', below: 'Below', 'insufficient-data': 'Too few tests', 'no-data': 'No data' },
  methodLines: ({ basis, minTestsSite: minSite, minTestsArea: minArea, samples }) => [
    basis === 'librespeed'
      ? 'Units: 1 Mbps = 10^6 bit/s; rates are payload (HTTP body bytes) × 1.06, as LibreSpeed shows them (its allowance for protocol headers).'
      : 'Units: 1 Mbps = 10^6 bit/s of payload (HTTP body bytes), protocol headers not counted.',
    'Each test: download and upload over HTTP to an i-Speed-style test server (LibreSpeed protocol), several parallel streams, warm-up left out.',
    "Verdicts use the median of the period's tests: a site meets when its median is at or above the target (fixed ≥ 102 Mbps, mobile ≥ 42 Mbps in the plan).",
    "An area's figures are taken over every individual test of its sites (as i-Speed publishes them), not over per-site medians.",
    samples.mode === 'tests'
      ? 'Each test is a sample.'
      : `Representative samples (as VNNIC normalises i-Speed data): a site's tests within ${samples.bucketMinutes} minutes count as one sample (their median); only successful tests count; a test above the site's contracted speed by more than ${Math.round(samples.contractMargin * 100)}% is left out.`,
    `Minimum-sample rule: a site needs at least ${minSite} tests; a province/district/commune needs ${minArea.slice(0, 3).join('/')}; with fewer the verdict is "too few tests".`,
    'Failed tests are counted apart and never enter a figure. Revoked sites are left out.',
  ],
  note: (note) =>
    note.code === 'retention'
      ? `Incomplete: raw results before ${note.deletedBefore} were deleted by the retention.`
      : note.code === 'not-over'
        ? `Incomplete: the period is not over yet (results up to ${note.at}).`
        : 'No site lies in the area.',
};

export function reportLabels(lang: ReportLang): ReportLabels {
  return lang === 'vi' ? VI : EN;
}
