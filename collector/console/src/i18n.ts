/**
 * The console's two languages: Vietnamese by default, English on a switch (remembered in
 * localStorage). Numbers and times are formatted for the language (102,5 Mbps in Vietnamese),
 * times in the collector's time zone (Asia/Ho_Chi_Minh unless configured).
 */

export type Lang = 'vi' | 'en';

export const LANGS: readonly Lang[] = ['vi', 'en'];

const LOCALES: Record<Lang, string> = { vi: 'vi-VN', en: 'en-GB' };

/** A whole number of minutes in its two largest units: `5 min`, `2 h 30 min`, `9 d 1 h` (units as given, largest first). */
function spell(minutes: number, [day, hour, minute]: readonly [string, string, string]): string {
  const m = Math.max(0, Math.round(minutes));
  const parts: [number, string][] = [
    [Math.floor(m / 1440), day],
    [Math.floor(m / 60) % 24, hour],
    [m % 60, minute],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return `0 ${minute}`;
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${n} ${unit}`)
    .join(' ');
}

const STRINGS = {
  vi: {
    title: 'Giám sát tốc độ băng rộng',
    overview: 'Tổng quan',
    navigation: 'Các trang',
    reports: 'Báo cáo',
    reportControls: 'Chọn kỳ báo cáo',
    period: 'Kỳ báo cáo',
    calendarMonth: 'Tháng',
    showMonth: 'Xem tháng',
    monthShown: (month: string) => `Số liệu của cả tháng ${month.slice(5)}/${month.slice(0, 4)}, tính từ cơ sở dữ liệu khi mở trang.`,
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
    /** The site's newest UDP quality (docs/console.md, "Site page"); up is the way to the test server. */
    udp: {
      title: 'Chất lượng UDP',
      rttMedian: 'Trễ khứ hồi, trung vị',
      rttP95: 'Trễ khứ hồi, phân vị 95',
      jitterUp: 'Jitter chiều lên',
      jitterDown: 'Jitter chiều xuống',
      lossUp: 'Mất gói chiều lên',
      lossDown: 'Mất gói chiều xuống',
      loss: 'Mất gói tổng',
      measuredAt: 'Đo lúc',
      note: 'Từ lần đo gần nhất có đo UDP. Chiều lên: từ điểm đo đến máy chủ đo; chiều xuống: chiều về.',
    },
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
    fleet: {
      nav: 'Thiết bị',
      title: 'Thiết bị đo',
      generatedAt: 'Cập nhật lúc',
      boxes: 'Thiết bị',
      connected: 'Đang kết nối',
      problems: {
        silent: 'Im lặng',
        disconnected: 'Mất kết nối',
        'tests-failing': 'Đo lỗi liên tiếp',
        'disk-low': 'Sắp hết bộ nhớ',
        'clock-skew': 'Lệch đồng hồ',
        paused: 'Tạm dừng',
      } as Record<string, string>,
      filters: {
        all: 'Tất cả',
        problems: 'Có vấn đề',
        ok: 'Bình thường',
        unhealthy: 'Trục trặc',
        silent: 'Im lặng',
        disconnected: 'Mất kết nối',
        'tests-failing': 'Đo lỗi liên tiếp',
        'disk-low': 'Sắp hết bộ nhớ',
        'clock-skew': 'Lệch đồng hồ',
        paused: 'Tạm dừng',
        revoked: 'Đã thu hồi',
      } as Record<string, string>,
      filter: 'Lọc theo vấn đề',
      problemsColumn: 'Vấn đề',
      rules: (r: { silent: string; min: string; disk: string; failed: string; okWithin: string; skew: string }) =>
        `Im lặng: không có kết quả đo quá ${r.silent} lần chu kỳ đo của thiết bị và ít nhất ${r.min} (thiết bị chưa từng gửi thì tính từ lúc thêm). ` +
        `Trục trặc (theo ngưỡng của cảnh báo): còn dưới ${r.disk} bộ nhớ, ${r.failed} lần đo lỗi liên tiếp hoặc không có lần đo thành công trong ${r.okWithin}, đồng hồ lệch quá ${r.skew}. ` +
        'Thiết bị tạm dừng không bị coi là im lặng; thiết bị đã thu hồi được ẩn.',
      versions: 'Phiên bản phần mềm',
      version: 'Phiên bản',
      unknownVersion: '(chưa rõ)',
      box: 'Thiết bị',
      lastResult: 'Kết quả gần nhất',
      lastSeen: 'Liên lạc gần nhất',
      health: 'Tình trạng',
      actions: 'Thao tác',
      ok: 'Bình thường',
      revoked: 'Đã thu hồi',
      never: 'chưa có',
      showing: (shown: string, matched: string) => `Hiển thị ${shown} trên ${matched} thiết bị`,
      none: 'Không có thiết bị nào.',
      diskFree: (v: string) => `${v} trống`,
      dataUsed: (used: string, budget: string | null) => (budget === null ? `đã dùng ${used} dữ liệu tháng này` : `đã dùng ${used} / ${budget} dữ liệu tháng này`),
      failedInARow: (n: string) => `${n} lần lỗi liên tiếp`,
      skew: (s: string) => `lệch ${s} giây`,
      testNow: 'Đo ngay',
      pause: 'Tạm dừng',
      resume: 'Tiếp tục',
      requested: (id: string, delay: string) => `${id}: đã yêu cầu đo, bắt đầu sau ${delay} giây.`,
      notConnected: (id: string) => `${id}: thiết bị không kết nối nên chưa đo được; thiết bị sẽ đo theo lịch khi kết nối lại.`,
      isPaused: (id: string) => `${id}: thiết bị đang tạm dừng; hãy cho tiếp tục trước khi đo.`,
      paused: (id: string) => `${id}: đã tạm dừng đo.`,
      resumed: (id: string) => `${id}: đã cho đo tiếp.`,
      unchanged: (id: string) => `${id}: không thay đổi.`,
      refused: (message: string, code: string) => `Bị từ chối (${code}): ${message}`,
      enroll: {
        title: 'Cấp mã đăng ký cho điểm đo mới',
        intro: 'Mã dùng một lần; người lắp đặt nhập mã trên thiết bị bằng lệnh speedwatch-agent enroll. Mã chỉ hiện một lần.',
        id: 'Mã điểm đo (id)',
        name: 'Tên điểm đo',
        kind: 'Loại',
        kinds: { school: 'Trường học', office: 'Cơ quan', clinic: 'Trạm y tế', other: 'Khác' } as Record<string, string>,
        technology: 'Công nghệ',
        isp: 'Nhà mạng',
        area: 'Địa bàn (tỉnh/huyện/xã)',
        expires: 'Hiệu lực',
        expiry: { '1d': '1 ngày', '7d': '7 ngày', '14d': '14 ngày', '30d': '30 ngày' } as Record<string, string>,
        submit: 'Cấp mã',
        issued: (id: string) => `Mã đăng ký cho ${id}`,
        validUntil: 'Hiệu lực đến',
        onTheBox: 'Trên thiết bị:',
        nearDuplicate: (area: string) => `Lưu ý: địa bàn này gần giống địa bàn đã có "${area}". Nếu là một nơi, hãy sửa lại.`,
      },
    },
    alerts: {
      nav: 'Cảnh báo',
      title: 'Cảnh báo',
      evaluatedAt: 'Đánh giá lúc',
      notEvaluated: 'Chưa đánh giá lần nào.',
      firing: 'Đang báo',
      pending: 'Đang chờ',
      none: 'Không có cảnh báo nào đang chờ hay đang báo.',
      alert: 'Cảnh báo',
      site: 'Điểm đo / địa bàn',
      severity: 'Mức độ',
      value: 'Giá trị',
      since: 'Từ lúc',
      firedAt: 'Báo lúc',
      notifications: 'Thông báo đã gửi',
      noWebhooks: 'Chưa cấu hình tuyến gửi hay webhook: cảnh báo chỉ được liệt kê ở đây.',
      webhooks: 'Tuyến gửi',
      channelTypes: { email: 'e-mail', telegram: 'Telegram', zalo: 'Zalo', ntfy: 'ntfy', webhook: 'webhook' } as Record<string, string>,
      digestAt: (time: string) => `bản tin hằng ngày lúc ${time}`,
      quietHours: (from: string, to: string) => `giờ yên lặng ${from}–${to}`,
      heldUntil: 'giữ lại đến',
      digests: 'Bản tin hằng ngày',
      digest: 'Bản tin',
      confirming: 'đang chờ lần đo xác nhận',
      undelivered: (n: string) => `${n} chưa gửi được`,
      lastError: 'Lỗi gần nhất',
      allKinds: 'Tất cả',
      showing: (shown: string, matched: string) => `Hiển thị ${shown} trên ${matched} cảnh báo`,
      resolvedTitle: 'Cảnh báo đã hết, đang gửi thông báo',
      states: { queued: 'Chờ gửi', held: 'Tạm giữ (giờ yên lặng)', delivered: 'Đã gửi', failed: 'Gửi lỗi' } as Record<string, string>,
      notified: { firing: 'báo', resolved: 'hết' } as Record<string, string>,
      attempts: (_n: number, text: string) => `${text} lần thử`,
      nextAttempt: 'thử lại lúc',
      severities: { critical: 'Nghiêm trọng', warning: 'Cần chú ý', info: 'Thông tin' } as Record<string, string>,
      names: {
        SpeedwatchSiteBelowTarget: 'Điểm đo dưới chỉ tiêu',
        SpeedwatchGroupBelowTarget: 'Địa bàn dưới chỉ tiêu',
        SpeedwatchAgentSilent: 'Thiết bị im lặng',
        SpeedwatchAgentDisconnected: 'Thiết bị mất kết nối',
        SpeedwatchAgentDiskLow: 'Thiết bị sắp hết bộ nhớ',
        SpeedwatchAgentTestsFailing: 'Thiết bị đo lỗi liên tiếp',
        SpeedwatchSiteUdpLossHigh: 'Điểm đo mất gói tin UDP',
        SpeedwatchSiteUdpJitterHigh: 'Điểm đo có jitter UDP cao',
        SpeedwatchSiteUdpRoundTripHigh: 'Điểm đo có độ trễ khứ hồi UDP cao',
        SpeedwatchCollectorRejecting: 'Máy thu từ chối dữ liệu',
      } as Record<string, string>,
      silentFor: (d: string) => `im lặng ${d}`,
      failedInARow: (n: string) => `${n} lần lỗi`,
      perSecond: (v: string) => `${v}/giây`,
    },
    duration: (minutes: number) => spell(minutes, ['ngày', 'giờ', 'phút']),
  },
  en: {
    title: 'Broadband speed watch',
    overview: 'Overview',
    navigation: 'Pages',
    reports: 'Reports',
    reportControls: 'Choose the report period',
    period: 'Period',
    calendarMonth: 'Month',
    showMonth: 'Show month',
    monthShown: (month: string) => `Figures for the whole of ${month}, computed from the database when the page opened.`,
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
    udp: {
      title: 'UDP quality',
      rttMedian: 'Round trip, median',
      rttP95: 'Round trip, 95th percentile',
      jitterUp: 'Jitter up',
      jitterDown: 'Jitter down',
      lossUp: 'Loss up',
      lossDown: 'Loss down',
      loss: 'Loss, total',
      measuredAt: 'Measured at',
      note: 'From the newest test that measured UDP. Up: from the site to the test server; down: the way back.',
    },
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
    fleet: {
      nav: 'Fleet',
      title: 'Fleet',
      generatedAt: 'As of',
      boxes: 'Boxes',
      connected: 'Connected',
      problems: {
        silent: 'Silent',
        disconnected: 'Disconnected',
        'tests-failing': 'Tests failing',
        'disk-low': 'Disk low',
        'clock-skew': 'Clock skew',
        paused: 'Paused',
      } as Record<string, string>,
      filters: {
        all: 'All',
        problems: 'With a problem',
        ok: 'OK',
        unhealthy: 'Unhealthy',
        silent: 'Silent',
        disconnected: 'Disconnected',
        'tests-failing': 'Tests failing',
        'disk-low': 'Disk low',
        'clock-skew': 'Clock skew',
        paused: 'Paused',
        revoked: 'Revoked',
      } as Record<string, string>,
      filter: 'Filter by problem',
      problemsColumn: 'Problems',
      rules: (r: { silent: string; min: string; disk: string; failed: string; okWithin: string; skew: string }) =>
        `Silent: no result for more than ${r.silent} times the box's test interval and at least ${r.min} (since it was added, for a box that never sent one). ` +
        `Unhealthy (the alerts' bars): less than ${r.disk} free, ${r.failed} failed tests in a row or no ok test for ${r.okWithin}, a clock off by more than ${r.skew}. ` +
        'A paused box is not silent; revoked boxes are hidden.',
      versions: 'Agent versions',
      version: 'Version',
      unknownVersion: '(unknown)',
      box: 'Box',
      lastResult: 'Latest result',
      lastSeen: 'Last seen',
      health: 'Health',
      actions: 'Actions',
      ok: 'OK',
      revoked: 'Revoked',
      never: 'never',
      showing: (shown: string, matched: string) => `Showing ${shown} of ${matched} boxes`,
      none: 'No box.',
      diskFree: (v: string) => `${v} free`,
      dataUsed: (used: string, budget: string | null) => (budget === null ? `${used} of data this month` : `${used} of ${budget} data this month`),
      failedInARow: (n: string) => `${n} failed in a row`,
      skew: (s: string) => `clock off ${s} s`,
      testNow: 'Test now',
      pause: 'Pause',
      resume: 'Resume',
      requested: (id: string, delay: string) => `${id}: test requested, starting in ${delay} s.`,
      notConnected: (id: string) => `${id}: the box is not connected, so no test was requested; it tests on its schedule once it reconnects.`,
      isPaused: (id: string) => `${id}: the box is paused; resume it before asking for a test.`,
      paused: (id: string) => `${id}: tests paused.`,
      resumed: (id: string) => `${id}: tests resumed.`,
      unchanged: (id: string) => `${id}: no change.`,
      refused: (message: string, code: string) => `Refused (${code}): ${message}`,
      enroll: {
        title: 'Issue an enrollment code for a new site',
        intro: 'A one-time code; the installer types it on the box with speedwatch-agent enroll. The code is shown once.',
        id: 'Site id',
        name: 'Site name',
        kind: 'Kind',
        kinds: { school: 'School', office: 'Office', clinic: 'Clinic', other: 'Other' } as Record<string, string>,
        technology: 'Technology',
        isp: 'ISP',
        area: 'Area (province/district/commune)',
        expires: 'Valid for',
        expiry: { '1d': '1 day', '7d': '7 days', '14d': '14 days', '30d': '30 days' } as Record<string, string>,
        submit: 'Issue code',
        issued: (id: string) => `Enrollment code for ${id}`,
        validUntil: 'Valid until',
        onTheBox: 'On the box:',
        nearDuplicate: (area: string) => `Note: this area resembles the existing "${area}". If they are one place, correct it.`,
      },
    },
    alerts: {
      nav: 'Alerts',
      title: 'Alerts',
      evaluatedAt: 'Evaluated at',
      notEvaluated: 'Not evaluated yet.',
      firing: 'Firing',
      pending: 'Pending',
      none: 'No alert is pending or firing.',
      alert: 'Alert',
      site: 'Site / area',
      severity: 'Severity',
      value: 'Value',
      since: 'Since',
      firedAt: 'Fired at',
      notifications: 'Notifications',
      noWebhooks: 'No route or webhook is configured: alerts are listed here only.',
      webhooks: 'Routes',
      channelTypes: { email: 'e-mail', telegram: 'Telegram', zalo: 'Zalo', ntfy: 'ntfy', webhook: 'webhook' } as Record<string, string>,
      digestAt: (time: string) => `daily digest at ${time}`,
      quietHours: (from: string, to: string) => `quiet ${from}–${to}`,
      heldUntil: 'held until',
      digests: 'Daily digests',
      digest: 'Digest',
      confirming: 'waiting for the confirmation test',
      undelivered: (n: string) => `${n} undelivered`,
      lastError: 'Latest error',
      allKinds: 'All',
      showing: (shown: string, matched: string) => `Showing ${shown} of ${matched} alerts`,
      resolvedTitle: 'Resolved alerts still being notified',
      states: { queued: 'Queued', held: 'Held (quiet hours)', delivered: 'Delivered', failed: 'Failed' } as Record<string, string>,
      notified: { firing: 'firing', resolved: 'resolved' } as Record<string, string>,
      attempts: (n: number, text: string) => `${text} attempt${n === 1 ? '' : 's'}`,
      nextAttempt: 'next try',
      severities: { critical: 'Critical', warning: 'Warning', info: 'Info' } as Record<string, string>,
      names: {
        SpeedwatchSiteBelowTarget: 'Site below target',
        SpeedwatchGroupBelowTarget: 'Area below target',
        SpeedwatchAgentSilent: 'Box silent',
        SpeedwatchAgentDisconnected: 'Box disconnected',
        SpeedwatchAgentDiskLow: 'Box short of disk',
        SpeedwatchAgentTestsFailing: 'Box failing its tests',
        SpeedwatchSiteUdpLossHigh: 'Site losing UDP packets',
        SpeedwatchSiteUdpJitterHigh: 'Site with high UDP jitter',
        SpeedwatchSiteUdpRoundTripHigh: 'Site with a long UDP round trip',
        SpeedwatchCollectorRejecting: 'Collector rejecting input',
      } as Record<string, string>,
      silentFor: (d: string) => `silent ${d}`,
      failedInARow: (n: string) => `${n} failed`,
      perSecond: (v: string) => `${v}/s`,
    },
    duration: (minutes: number) => spell(minutes, ['d', 'h', 'min']),
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
  /** A size in powers of 1000, as the config writes them: `12,9 GB` (vi), `12.9 GB` (en). */
  bytes: (value: number) => string;
  /** A number with at most `digits` decimals. */
  decimal: (value: number, digits: number) => string;
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
  const oneDecimal = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
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
    bytes: (value) => {
      const units = ['B', 'kB', 'MB', 'GB', 'TB'];
      let scaled = value;
      let unit = 0;
      while (scaled >= 1000 && unit < units.length - 1) {
        scaled /= 1000;
        unit += 1;
      }
      return `${(unit === 0 ? count : oneDecimal).format(scaled)} ${units[unit] ?? ''}`;
    },
    decimal: (value, digits) => new Intl.NumberFormat(locale, { maximumFractionDigits: digits }).format(value),
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
