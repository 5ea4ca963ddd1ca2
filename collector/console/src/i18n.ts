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
  t: Strings;
  /** Mbps with one decimal: `102,5` (vi), `102.5` (en). */
  mbps: (value: number) => string;
  /** A count: `1.234` (vi), `1,234` (en). */
  count: (value: number) => string;
  /** A share 0..1 as a percentage with one decimal. */
  percent: (value: number) => string;
  /** A time (ISO 8601) in the time zone. */
  time: (iso: string) => string;
}

export function formatter(lang: Lang, timeZone: string): Formatter {
  const locale = LOCALES[lang];
  const mbps = new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const count = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const percent = new Intl.NumberFormat(locale, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const time = new Intl.DateTimeFormat(locale, { timeZone, dateStyle: 'short', timeStyle: 'medium' });
  return {
    lang,
    t: STRINGS[lang],
    mbps: (value) => mbps.format(value),
    count: (value) => count.format(value),
    percent: (value) => percent.format(value),
    time: (iso) => time.format(new Date(iso)),
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
