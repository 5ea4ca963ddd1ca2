/**
 * The console's two languages: Vietnamese by default, English on a switch (remembered in
 * localStorage). Numbers and times are formatted for the language (102,5 Mbps in Vietnamese),
 * times in the collector's time zone (Asia/Ho_Chi_Minh unless configured).
 */

export type Lang = 'vi' | 'en';

export const LANGS: readonly Lang[] = ['vi', 'en'];

const LOCALES: Record<Lang, string> = { vi: 'vi-VN', en: 'en-GB' };

const STRINGS = {
  vi: {
    title: 'Giám sát tốc độ băng rộng',
    overview: 'Tổng quan',
    navigation: 'Các trang',
    reports: 'Báo cáo',
    reportControls: 'Chọn kỳ báo cáo',
    period: 'Kỳ báo cáo',
    calendarMonth: 'Tháng',
    dateRange: 'Từ ngày – đến ngày',
    toExclusive: '(không gồm ngày cuối)',
    allSites: 'Tất cả điểm đo',
    show: 'Xem báo cáo',
    print: 'In',
    window: 'Khoảng thời gian',
    windowNames: { '24h': '24 giờ', '7d': '7 ngày', '30d': '30 ngày' } as Record<string, string>,
    technology: { fixed: 'Cố định', mobile: 'Di động' } as Record<string, string>,
    target: 'Chỉ tiêu',
    sites: 'Điểm đo',
    meets: 'Đạt',
    below: 'Không đạt',
    insufficient: 'Chưa đủ số lần đo',
    silent: 'Không có số liệu',
    areaTree: 'Theo địa bàn',
    area: 'Địa bàn',
    tests: 'Số lần đo',
    median: 'Trung vị tải xuống',
    mean: 'Trung bình tải xuống',
    share: 'Tỷ lệ đạt chỉ tiêu',
    verdict: 'Kết luận',
    slowest: 'Các điểm chậm nhất',
    site: 'Điểm đo',
    computedAt: 'Tính lúc',
    notYet: 'Kết quả chưa được tính; hãy thử lại sau ít phút.',
    needs: (tests: string, min: string) => `${tests}/${min} lần đo`,
    needsTitle: 'Chưa đủ số lần đo tối thiểu để kết luận',
    minRule: (min: string) => `Cần ít nhất ${min} lần đo cho mỗi điểm; địa bàn theo quy định tối thiểu mẫu.`,
    noArea: '(chưa có địa bàn)',
    expand: 'Mở rộng',
    logout: 'Đăng xuất',
    error: 'Không tải được dữ liệu',
    verdicts: { meets: 'Đạt', below: 'Không đạt', 'insufficient-data': 'Chưa đủ mẫu', 'no-data': 'Không có số liệu' } as Record<string, string>,
    siteNotFound: (id: string) => `Không có điểm đo “${id}”.`,
    noSiteGiven: 'Chưa chọn điểm đo.',
    backToOverview: 'Về trang tổng quan',
    kinds: { school: 'Trường học', office: 'Cơ quan', clinic: 'Trạm y tế', other: 'Khác' } as Record<string, string>,
    kind: 'Loại điểm',
    technologyLabel: 'Công nghệ',
    isp: 'Nhà mạng',
    coordinates: 'Tọa độ',
    connection: 'Kết nối',
    connected: 'Đang kết nối',
    disconnected: 'Không kết nối',
    lastSeen: 'lần cuối',
    neverConnected: 'Chưa từng kết nối',
    paused: 'Đang tạm dừng đo',
    revoked: 'Đã thu hồi',
    verdictsByWindow: 'Kết luận theo khoảng thời gian',
    failedTests: 'Lần đo lỗi',
    medianUpload: 'Trung vị tải lên',
    medianLatency: 'Trung vị độ trễ',
    throughputChart: 'Tải xuống và tải lên (Mbps, trung vị mỗi khoảng)',
    latencyChart: 'Độ trễ và jitter (ms, trung vị mỗi khoảng)',
    download: 'Tải xuống',
    upload: 'Tải lên',
    latency: 'Độ trễ',
    jitter: 'Jitter',
    targetOf: (what: string) => `Chỉ tiêu ${what.toLowerCase()}`,
    noTestsInWindow: 'Không có lần đo nào trong khoảng thời gian này.',
    meanJitter: 'Jitter trung bình',
    meanLoss: 'Tỷ lệ mất gói trung bình',
    loadedLatency: 'Độ trễ khi có tải',
    whileDownloading: 'khi tải xuống',
    whileUploading: 'khi tải lên',
    notMeasured: 'chưa đo',
    health: 'Tình trạng thiết bị',
    noHealth: 'Thiết bị chưa gửi báo cáo tình trạng.',
    reportedAt: 'Báo cáo lúc',
    version: 'Phiên bản',
    uptime: 'Thời gian chạy',
    diskFree: 'Dung lượng trống',
    cpuTemperature: 'Nhiệt độ CPU',
    backlog: 'Kết quả chờ gửi',
    failedInARow: 'Lần đo lỗi liên tiếp',
    clockSkew: 'Lệch đồng hồ',
    recentTests: (n: string) => `${n} lần đo gần nhất`,
    time: 'Thời điểm',
    status: 'Trạng thái',
    endpoint: 'Máy chủ đo',
    loss: 'Mất gói',
    statuses: { ok: 'Thành công', partial: 'Một phần', failed: 'Lỗi' } as Record<string, string>,
    noTests: 'Chưa có lần đo nào.',
    /** Labels of a table's figures where a phone shows each row as a block (no column heads). */
    short: { tests: 'Số lần đo', median: 'Trung vị', mean: 'Trung bình', share: 'Đạt chỉ tiêu', target: 'Chỉ tiêu' },
    map: {
      title: 'Bản đồ các điểm đo',
      all: 'Tất cả',
      label: (sites: string) => `Bản đồ ${sites} điểm đo, tô màu theo kết luận`,
      unplaced: (sites: string) => `${sites} điểm đo chưa có toạ độ nên không hiện trên bản đồ.`,
      noOutlines: 'Không tải được đường biên giới; các điểm vẫn hiện đúng vị trí.',
      open: 'Bấm vào một điểm để xem trang của điểm đó.',
      source: 'Biên giới: Natural Earth 1:10m.',
      countries: { Vietnam: 'Việt Nam', China: 'Trung Quốc', Laos: 'Lào', Cambodia: 'Campuchia', Thailand: 'Thái Lan' } as Record<string, string>,
    },
  },
  en: {
    title: 'Broadband speed watch',
    overview: 'Overview',
    navigation: 'Pages',
    reports: 'Reports',
    reportControls: 'Choose the report period',
    period: 'Period',
    calendarMonth: 'Month',
    dateRange: 'From – to',
    toExclusive: '(the end day not included)',
    allSites: 'All sites',
    show: 'Show report',
    print: 'Print',
    window: 'Window',
    windowNames: { '24h': '24 hours', '7d': '7 days', '30d': '30 days' } as Record<string, string>,
    technology: { fixed: 'Fixed', mobile: 'Mobile' } as Record<string, string>,
    target: 'Target',
    sites: 'Sites',
    meets: 'Meeting',
    below: 'Below',
    insufficient: 'Too few tests',
    silent: 'Silent',
    areaTree: 'By area',
    area: 'Area',
    tests: 'Tests',
    median: 'Median download',
    mean: 'Mean download',
    share: 'Share at target',
    verdict: 'Verdict',
    slowest: 'Slowest sites',
    site: 'Site',
    computedAt: 'Computed at',
    notYet: 'Verdicts are not computed yet; try again in a few minutes.',
    needs: (tests: string, min: string) => `${tests}/${min} tests`,
    needsTitle: 'Fewer tests than the minimum a verdict needs',
    minRule: (min: string) => `A site needs at least ${min} tests; areas follow the minimum-sample rule.`,
    noArea: '(no area)',
    expand: 'Expand',
    logout: 'Log out',
    error: 'Could not load the data',
    verdicts: { meets: 'Meets', below: 'Below', 'insufficient-data': 'Too few tests', 'no-data': 'No data' } as Record<string, string>,
    siteNotFound: (id: string) => `No site “${id}”.`,
    noSiteGiven: 'No site chosen.',
    backToOverview: 'Back to the overview',
    kinds: { school: 'School', office: 'Office', clinic: 'Clinic', other: 'Other' } as Record<string, string>,
    kind: 'Kind',
    technologyLabel: 'Technology',
    isp: 'ISP',
    coordinates: 'Coordinates',
    connection: 'Connection',
    connected: 'Connected',
    disconnected: 'Not connected',
    lastSeen: 'last seen',
    neverConnected: 'Never connected',
    paused: 'Tests paused',
    revoked: 'Revoked',
    verdictsByWindow: 'Verdict per window',
    failedTests: 'Failed tests',
    medianUpload: 'Median upload',
    medianLatency: 'Median latency',
    throughputChart: 'Download and upload (Mbps, median per bucket)',
    latencyChart: 'Latency and jitter (ms, median per bucket)',
    download: 'Download',
    upload: 'Upload',
    latency: 'Latency',
    jitter: 'Jitter',
    targetOf: (what: string) => `${what} target`,
    noTestsInWindow: 'No test in this window.',
    meanJitter: 'Mean jitter',
    meanLoss: 'Mean packet loss',
    loadedLatency: 'Latency under load',
    whileDownloading: 'while downloading',
    whileUploading: 'while uploading',
    notMeasured: 'not measured',
    health: 'Box health',
    noHealth: 'The box has sent no health report.',
    reportedAt: 'Reported at',
    version: 'Version',
    uptime: 'Uptime',
    diskFree: 'Disk free',
    cpuTemperature: 'CPU temperature',
    backlog: 'Results waiting to send',
    failedInARow: 'Failed tests in a row',
    clockSkew: 'Clock skew',
    recentTests: (n: string) => `Latest ${n} tests`,
    time: 'Time',
    status: 'Status',
    endpoint: 'Test server',
    loss: 'Loss',
    statuses: { ok: 'OK', partial: 'Partial', failed: 'Failed' } as Record<string, string>,
    noTests: 'No test yet.',
    /** Labels of a table's figures where a phone shows each row as a block (no column heads). */
    short: { tests: 'Tests', median: 'Median', mean: 'Mean', share: 'At target', target: 'Target' },
    map: {
      title: 'Map of the sites',
      all: 'All',
      label: (sites: string) => `Map of ${sites} sites, coloured by verdict`,
      unplaced: (sites: string) => `${sites} sites have no coordinates and are not on the map.`,
      noOutlines: 'The country outlines could not be loaded; the sites are still in place.',
      open: 'Click a site to open its page.',
      source: 'Borders: Natural Earth 1:10m.',
      countries: { Vietnam: 'Vietnam', China: 'China', Laos: 'Laos', Cambodia: 'Cambodia', Thailand: 'Thailand' } as Record<string, string>,
    },
  },
} satisfies Record<Lang, unknown>;

export type Strings = (typeof STRINGS)['vi'];

/** Formatting for one language and time zone. */
export interface Formatter {
  lang: Lang;
  /** The BCP 47 locale numbers and times are formatted for. */
  locale: string;
  /** The IANA zone times are shown in. */
  timeZone: string;
  t: Strings;
  /** Mbps with one decimal: `102,5` (vi), `102.5` (en). */
  mbps: (value: number) => string;
  /** A count: `1.234` (vi), `1,234` (en). */
  count: (value: number) => string;
  /** A share 0..1 as a percentage with one decimal. */
  percent: (value: number) => string;
  /** A time (ISO 8601) in the time zone. */
  time: (iso: string) => string;
  /** Milliseconds with one decimal, without the unit. */
  ms: (value: number) => string;
  /** A loss ratio 0..1 as a percentage with two decimals (the ratio's 4). */
  loss: (ratio: number) => string;
  /** Seconds as hours with one decimal, or days from 48 h: `5,2 giờ`, `12,5 ngày`. */
  duration: (seconds: number) => string;
  /** Bytes as gigabytes (10⁹) with one decimal: `12,5 GB`. */
  gigabytes: (bytes: number) => string;
  /** °C with one decimal. */
  celsius: (value: number) => string;
  /** Seconds with one decimal: `2,1 giây`. */
  seconds: (value: number) => string;
}

export function formatter(lang: Lang, timeZone: string): Formatter {
  const locale = LOCALES[lang];
  const mbps = new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const count = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const percent = new Intl.NumberFormat(locale, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const time = new Intl.DateTimeFormat(locale, { timeZone, dateStyle: 'short', timeStyle: 'medium' });
  const percent2 = new Intl.NumberFormat(locale, { style: 'percent', minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const unit = (name: string) => new Intl.NumberFormat(locale, { style: 'unit', unit: name, unitDisplay: 'short', minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const hours = unit('hour');
  const days = unit('day');
  const gigabytes = unit('gigabyte');
  const celsius = unit('celsius');
  const seconds = unit('second');
  return {
    lang,
    locale,
    timeZone,
    t: STRINGS[lang],
    mbps: (value) => mbps.format(value),
    count: (value) => count.format(value),
    percent: (value) => percent.format(value),
    time: (iso) => time.format(new Date(iso)),
    ms: (value) => mbps.format(value),
    loss: (ratio) => percent2.format(ratio),
    duration: (s) => (s < 48 * 3600 ? hours.format(s / 3600) : days.format(s / 86_400)),
    gigabytes: (bytes) => gigabytes.format(bytes / 1e9),
    celsius: (value) => celsius.format(value),
    seconds: (value) => seconds.format(value),
  };
}

const LANG_KEY = 'speedwatch.lang';
const WINDOW_KEY = 'speedwatch.window';

/** The language chosen before (localStorage), else Vietnamese. */
export function savedLang(storage: Storage): Lang {
  const saved = storage.getItem(LANG_KEY);
  return saved === 'en' ? 'en' : 'vi';
}

export function saveLang(storage: Storage, lang: Lang): void {
  storage.setItem(LANG_KEY, lang);
}

export function savedWindow(storage: Storage): string | undefined {
  return storage.getItem(WINDOW_KEY) ?? undefined;
}

export function saveWindow(storage: Storage, window: string): void {
  storage.setItem(WINDOW_KEY, window);
}
