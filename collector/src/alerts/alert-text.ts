/**
 * Messages a person can act on, in Vietnamese or English (a route's `lang`): which site, where,
 * what was measured against which target over which window, since when in the collector's time
 * zone, and the link to the site's page on the console (`{externalUrl}#/site/<id>`). Written
 * from the alert's labels and facts (alert-rules.ts); an alert stored before facts existed falls
 * back on its English annotations. Numbers are formatted here, not by the runtime's locale data,
 * so that a message reads the same on every server. Pure.
 */
import type { MissedTarget } from './alert-rules.js';
import type { RouteLang } from './alert-routes.js';
import type { PersonMessage } from './channels/channel.js';
import type { DigestPayload, DigestSite } from './digest.js';
import { zoneOffsetMs } from '@speedwatch/shared';
import type { NotificationStatus, WebhookAlert } from './webhook-payload.js';

export interface TextContext {
  lang: RouteLang;
  /** The collector's `timeZone`: times are stated in it. */
  timeZone: string;
  /** The console's base URL, ending with `/`. */
  externalUrl: string;
}

const WORDS = {
  vi: {
    names: {
      SpeedwatchSiteBelowTarget: 'Điểm đo dưới chỉ tiêu',
      SpeedwatchGroupBelowTarget: 'Địa bàn dưới chỉ tiêu',
      SpeedwatchAgentSilent: 'Thiết bị không gửi kết quả',
      SpeedwatchAgentDisconnected: 'Thiết bị mất kết nối',
      SpeedwatchAgentDiskLow: 'Thiết bị sắp hết bộ nhớ',
      SpeedwatchAgentTestsFailing: 'Thiết bị đo lỗi liên tiếp',
      SpeedwatchSiteUdpLossHigh: 'Điểm đo mất gói tin UDP',
      SpeedwatchSiteUdpJitterHigh: 'Điểm đo có jitter UDP cao',
      SpeedwatchSiteUdpRoundTripHigh: 'Điểm đo có độ trễ khứ hồi UDP cao',
      SpeedwatchCollectorRejecting: 'Máy thu từ chối dữ liệu',
    } as Record<string, string>,
    resolved: 'Đã hết',
    technology: { fixed: 'cố định', mobile: 'di động' } as Record<string, string>,
    kinds: { school: 'trường học', office: 'cơ quan', clinic: 'trạm y tế', other: 'khác' } as Record<string, string>,
    metrics: { download: 'tốc độ tải xuống', upload: 'tốc độ tải lên', latency: 'độ trễ' } as Record<string, string>,
    area: 'Địa bàn',
    isp: 'nhà mạng',
    site: 'Điểm đo',
    sitePage: 'Trang điểm đo',
    alertsPage: 'Trang cảnh báo',
    since: 'Từ lúc',
    ended: 'Kết thúc lúc',
    zone: (zone: string) => `giờ ${zone}`,
    window: (n: number, unit: 'h' | 'd') => `${n} ${unit === 'h' ? 'giờ' : 'ngày'}`,
    tests: (n: number) => `${n} lần đo`,
    belowSite: (site: string, technology: string) => `${site} không đạt chỉ tiêu băng rộng ${technology}.`,
    measured: (window: string, missed: string) => `Đo được: trong ${window} qua, ${missed}.`,
    missed: (metric: string, median: string, unit: string, tests: string, target: string, latency: boolean) =>
      `trung vị ${metric} là ${median} ${unit} qua ${tests}, ${latency ? 'trên' : 'dưới'} chỉ tiêu ${target} ${unit}`,
    latest: (mbps: string) => `Lần đo gần nhất: ${mbps} Mbps.`,
    backOnTarget: (site: string) => `${site} đã đạt lại chỉ tiêu.`,
    ended2: (title: string) => `Cảnh báo "${title}" đã hết.`,
    silent: (time: string) => `Không có kết quả đo nào từ ${time}. Kiểm tra nguồn điện, mạng và dịch vụ speedwatch-agent của thiết bị.`,
    disconnected: 'Thiết bị không kết nối tới máy thu; kết quả đo đang chờ trong thiết bị.',
    diskLow: (free: string) => `Thiết bị chỉ còn ${free} trống trong thư mục dữ liệu. Hãy giải phóng bộ nhớ hoặc thay thẻ nhớ lớn hơn.`,
    testsFailing: (n: number) => `Thiết bị đo lỗi ${n} lần liên tiếp (hoặc lâu rồi không có lần đo thành công).`,
    directions: { up: 'chiều đi (tới máy chủ đo)', down: 'chiều về (từ máy chủ đo)' } as Record<string, string>,
    udpLoss: (share: string, direction: string) => `Gói tin UDP bị mất ${share} ở ${direction}, quá 1 %: gọi video và học trực tuyến bị đứt quãng.`,
    udpJitter: (ms: string, direction: string) => `Độ dao động trễ (jitter) UDP ở ${direction} là ${ms} ms, quá 30 ms: cuộc gọi bị giật hoặc trễ.`,
    udpRoundTrip: (ms: string) => `Độ trễ khứ hồi UDP (phân vị 95) là ${ms} ms, quá 300 ms: người trong cuộc gọi nói chồng lên nhau.`,
    udpMeasured: (time: string) => `Đo lúc: ${time}.`,
    group: (sites: number, technology: string, area: string, median: string, target: string) =>
      `Trung vị lần đo gần nhất của ${sites} điểm đo ${technology} ${area === '' ? 'không có địa bàn' : `tại ${area}`} là ${median} Mbps, dưới chỉ tiêu ${target} Mbps.`,
    rejecting: (reason: string, rate: string) => `Máy thu đang từ chối ${rate} tin nhắn hoặc kết quả mỗi giây (lý do: ${reason}).`,
    digestSubject: (n: number) => (n === 0 ? 'Bản tin hằng ngày: không có điểm đo nào dưới chỉ tiêu' : `Bản tin hằng ngày: ${n} điểm đo dưới chỉ tiêu`),
    digestHead: (time: string, n: number) => (n === 0 ? `Lúc ${time}, không có điểm đo nào dưới chỉ tiêu.` : `Lúc ${time}, ${n} điểm đo dưới chỉ tiêu:`),
    digestSince: (time: string) => `từ ${time}`,
  },
  en: {
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
    resolved: 'Resolved',
    technology: { fixed: 'fixed', mobile: 'mobile' } as Record<string, string>,
    kinds: { school: 'school', office: 'office', clinic: 'clinic', other: 'other' } as Record<string, string>,
    metrics: { download: 'download', upload: 'upload', latency: 'latency' } as Record<string, string>,
    area: 'Area',
    isp: 'ISP',
    site: 'Site',
    sitePage: 'Site page',
    alertsPage: 'Alerts page',
    since: 'Since',
    ended: 'Ended',
    zone: (zone: string) => zone,
    window: (n: number, unit: 'h' | 'd') => `${n} ${unit === 'h' ? 'hour' : 'day'}${n === 1 ? '' : 's'}`,
    tests: (n: number) => `${n} test${n === 1 ? '' : 's'}`,
    belowSite: (site: string, technology: string) => `${site} is below its ${technology} broadband target.`,
    measured: (window: string, missed: string) => `Measured: over the last ${window}, ${missed}.`,
    missed: (metric: string, median: string, unit: string, tests: string, target: string, latency: boolean) =>
      `the median ${metric} was ${median} ${unit} over ${tests}, ${latency ? 'above' : 'under'} the target of ${target} ${unit}`,
    latest: (mbps: string) => `Latest test: ${mbps} Mbps.`,
    backOnTarget: (site: string) => `${site} is back on target.`,
    ended2: (title: string) => `The alert "${title}" has ended.`,
    silent: (time: string) => `No result since ${time}. Check the box's power, network and its speedwatch-agent service.`,
    disconnected: 'The box is not connected to the collector; its results wait on the box.',
    diskLow: (free: string) => `The box has only ${free} free in its data directory. Free some space or give it a larger card.`,
    testsFailing: (n: number) => `The box failed ${n} tests in a row (or has had no ok test for long).`,
    directions: { up: 'up (to the endpoint)', down: 'down (back from the endpoint)' } as Record<string, string>,
    udpLoss: (share: string, direction: string) => `The UDP probe lost ${share} of its packets going ${direction}, over 1 %: video calls and online lessons break up.`,
    udpJitter: (ms: string, direction: string) => `The UDP jitter going ${direction} is ${ms} ms, over 30 ms: calls stutter or lag.`,
    udpRoundTrip: (ms: string) => `The UDP round trip (95th percentile) is ${ms} ms, over 300 ms: people in calls talk over each other.`,
    udpMeasured: (time: string) => `Measured: ${time}.`,
    group: (sites: number, technology: string, area: string, median: string, target: string) =>
      `The median latest download of the ${sites} ${technology} sites ${area === '' ? 'with no area' : `in ${area}`} is ${median} Mbps, under the target of ${target} Mbps.`,
    rejecting: (reason: string, rate: string) => `The collector rejects ${rate} messages or results a second (reason: ${reason}).`,
    digestSubject: (n: number) => (n === 0 ? 'Daily digest: no site below target' : `Daily digest: ${n} site${n === 1 ? '' : 's'} below target`),
    digestHead: (time: string, n: number) => (n === 0 ? `At ${time}, no site is below target.` : `At ${time}, ${n} site${n === 1 ? ' is' : 's are'} below target:`),
    digestSince: (time: string) => `since ${time}`,
  },
} as const;

/** A decimal with `digits` places: `30,0` in Vietnamese, `30.0` in English. */
export function decimal(value: number, digits: number, lang: RouteLang): string {
  const text = value.toFixed(digits);
  return lang === 'vi' ? text.replace('.', ',') : text;
}

/** A time in the zone: `15:00 25/11/2026 (giờ Asia/Ho_Chi_Minh)` or `2026-11-25 15:00 (Asia/Ho_Chi_Minh)`. */
export function localTime(instant: number, ctx: Pick<TextContext, 'lang' | 'timeZone'>): string {
  const wall = new Date(instant + zoneOffsetMs(ctx.timeZone, instant)).toISOString();
  const [date = '', time = ''] = wall.split('T');
  const [year, month, day] = date.split('-');
  const hm = time.slice(0, 5);
  const zone = WORDS[ctx.lang].zone(ctx.timeZone);
  return ctx.lang === 'vi' ? `${hm} ${day}/${month}/${year} (${zone})` : `${date} ${hm} (${zone})`;
}

function windowText(window: string, lang: RouteLang): string {
  const match = /^(\d+)([hd])$/.exec(window);
  return match === null ? window : WORDS[lang].window(Number(match[1]), match[2] as 'h' | 'd');
}

function missedText(missed: readonly MissedTarget[], lang: RouteLang): string {
  const w = WORDS[lang];
  return missed
    .map((m) => {
      const latency = m.metric === 'latency';
      const unit = latency ? 'ms' : 'Mbps';
      return w.missed(w.metrics[m.metric] ?? m.metric, decimal(m.median, 1, lang), unit, w.tests(m.tests), decimal(m.target, latency ? 0 : 1, lang), latency);
    })
    .join('; ');
}

/** Bytes in powers of 1000, as the config's sizes: `950 kB`, `52,4 MB`. */
function bytesText(value: number, lang: RouteLang): string {
  if (value < 1000) return `${value} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let scaled = value / 1000;
  let unit = 0;
  while (scaled >= 1000 && unit < units.length - 1) {
    scaled /= 1000;
    unit++;
  }
  return `${scaled < 10 ? decimal(scaled, 1, lang) : Math.round(scaled)} ${units[unit] as string}`;
}

/** A UDP quality alert's figure for people: a loss ratio as a percentage, jitter or round trip (seconds) in ms. */
function udpText(alertname: string, value: number, direction: string, lang: RouteLang): string {
  const w = WORDS[lang];
  const way = w.directions[direction] ?? direction;
  if (alertname === 'SpeedwatchSiteUdpLossHigh') return w.udpLoss(`${decimal(value * 100, 1, lang)} %`, way);
  const ms = decimal(value * 1000, 1, lang);
  return alertname === 'SpeedwatchSiteUdpJitterHigh' ? w.udpJitter(ms, way) : w.udpRoundTrip(ms);
}

/** The console page for an alert: the site's page, or the alerts page for an alert about no site. */
export function alertLink(labels: Readonly<Record<string, string>>, externalUrl: string): string {
  const agent = labels['agent_id'];
  return agent === undefined ? `${externalUrl}#/alerts` : `${externalUrl}#/site/${encodeURIComponent(agent)}`;
}

/** The message for one alert firing or resolved. */
export function alertMessage(status: NotificationStatus, alert: WebhookAlert, ctx: TextContext): PersonMessage {
  const w = WORDS[ctx.lang];
  const { labels, facts } = alert;
  const value = facts?.value;
  const alertname = labels['alertname'] ?? '';
  const agentId = labels['agent_id'];
  const name = facts?.siteName ?? agentId;
  const site = name === undefined ? undefined : agentId === undefined || name === agentId ? name : `${name} (${agentId})`;
  const area = labels['area'];
  const technology = w.technology[labels['technology'] ?? ''] ?? labels['technology'] ?? '';
  const title = w.names[alertname] ?? alertname;
  const subject = `${status === 'resolved' ? `${w.resolved}: ` : ''}${title}${name === undefined ? (area === undefined ? '' : `: ${area}`) : `: ${name}${area === undefined ? '' : ` (${area})`}`}`;
  const link = alertLink(labels, ctx.externalUrl);
  const lines: string[] = [];

  if (status === 'resolved') {
    lines.push(alertname === 'SpeedwatchSiteBelowTarget' && site !== undefined ? w.backOnTarget(site) : w.ended2(title));
  } else {
    switch (alertname) {
      case 'SpeedwatchSiteBelowTarget':
        lines.push(w.belowSite(site ?? '', technology));
        break;
      case 'SpeedwatchAgentSilent':
        lines.push(facts?.lastResultAt === undefined ? alert.annotations['summary'] ?? title : w.silent(localTime(facts.lastResultAt, ctx)));
        break;
      case 'SpeedwatchAgentDisconnected':
        lines.push(w.disconnected);
        break;
      case 'SpeedwatchAgentDiskLow':
        lines.push(value === undefined || !Number.isFinite(value) ? alert.annotations['summary'] ?? title : w.diskLow(bytesText(value, ctx.lang)));
        break;
      case 'SpeedwatchAgentTestsFailing':
        lines.push(value === undefined || !Number.isFinite(value) ? alert.annotations['summary'] ?? title : w.testsFailing(value));
        break;
      case 'SpeedwatchSiteUdpLossHigh':
      case 'SpeedwatchSiteUdpJitterHigh':
      case 'SpeedwatchSiteUdpRoundTripHigh':
        lines.push(value === undefined || !Number.isFinite(value) ? alert.annotations['summary'] ?? title : udpText(alertname, value, labels['direction'] ?? '', ctx.lang));
        if (facts?.udpAt !== undefined) lines.push(w.udpMeasured(localTime(facts.udpAt, ctx)));
        break;
      case 'SpeedwatchGroupBelowTarget':
        lines.push(
          facts?.sites === undefined || facts.targetMbps === undefined || value === undefined
            ? alert.annotations['description'] ?? title
            : w.group(facts.sites, technology, area ?? '', decimal(value, 1, ctx.lang), decimal(facts.targetMbps, 1, ctx.lang)),
        );
        break;
      case 'SpeedwatchCollectorRejecting':
        lines.push(value === undefined ? alert.annotations['description'] ?? title : w.rejecting(labels['reason'] ?? '', decimal(value, 2, ctx.lang)));
        break;
      default:
        lines.push(alert.annotations['description'] ?? alert.annotations['summary'] ?? title);
    }
  }
  if (site !== undefined && !(lines[0] ?? '').startsWith(site)) lines.push(`${w.site}: ${site}`);
  const where = [
    ...(area === undefined ? [] : [area]),
    ...(labels['site_kind'] === undefined ? [] : [w.kinds[labels['site_kind']] ?? labels['site_kind']]),
    ...(labels['isp'] === undefined ? [] : [`${w.isp} ${labels['isp']}`]),
  ];
  if (where.length > 0 && agentId !== undefined) lines.push(`${w.area}: ${where.join(' · ')}`);
  if (alertname === 'SpeedwatchSiteBelowTarget') {
    if (facts?.missed !== undefined && facts.window !== undefined) lines.push(w.measured(windowText(facts.window, ctx.lang), missedText(facts.missed, ctx.lang)));
    else if (alert.annotations['description'] !== undefined) lines.push(alert.annotations['description']);
    if (facts?.latestMbps !== undefined && status === 'firing') lines.push(w.latest(decimal(facts.latestMbps, 1, ctx.lang)));
  }
  lines.push(`${w.since}: ${localTime(Date.parse(alert.startsAt), ctx)}`);
  if (status === 'resolved' && !alert.endsAt.startsWith('0001')) lines.push(`${w.ended}: ${localTime(Date.parse(alert.endsAt), ctx)}`);
  lines.push(`${agentId === undefined ? w.alertsPage : w.sitePage}: ${link}`);
  return { subject, text: lines.join('\n'), link, kind: status, severity: labels['severity'] ?? 'warning' };
}

/** One line of a digest: the site, where, what it missed, since when, its page. */
function digestLine(site: DigestSite, ctx: TextContext): string {
  const w = WORDS[ctx.lang];
  const parts = [
    `${site.name === site.agentId ? site.name : `${site.name} (${site.agentId})`}${site.area === undefined ? '' : ` – ${site.area}`}`,
    ...(site.missed === undefined || site.window === undefined ? [] : [`${windowText(site.window, ctx.lang)}: ${missedText(site.missed, ctx.lang)}`]),
    w.digestSince(localTime(Date.parse(site.since), ctx)),
    `${ctx.externalUrl}#/site/${encodeURIComponent(site.agentId)}`,
  ];
  return `• ${parts.join('; ')}`;
}

/** A digest route's daily message: every site of the digest, one line each, and nothing else. */
export function digestMessage(payload: DigestPayload, ctx: TextContext): PersonMessage {
  const w = WORDS[ctx.lang];
  const n = payload.digest.length;
  const link = `${ctx.externalUrl}#/alerts`;
  const lines = [w.digestHead(localTime(Date.parse(payload.at), ctx), n), ...payload.digest.map((site) => digestLine(site, ctx)), '', `${w.alertsPage}: ${link}`];
  return { subject: w.digestSubject(n), text: lines.join('\n'), link, kind: 'digest', severity: 'info' };
}
