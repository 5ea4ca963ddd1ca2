/**
 * A realistic fleet for the console's tests: 300 sites across Lạng Sơn's districts and communes
 * with 30 days of results, written through the store's production write path (frame batches,
 * as ingest commits them). Deterministic (a seeded generator): about two thirds meet their
 * target, a fifth are below, some test too rarely for a 24 h verdict, some went silent days ago
 * and a few never reported. Every 37th test of a site failed (no endpoint answered); every
 * site that tested has a health report from its box, sent with its last test. With `udp`, every
 * other site that tested measured UDP quality too, but for its last test (its reflector did not
 * answer then), so the figures a page shows are older than its latest test.
 */
import { randomUUID } from 'node:crypto';
import { batchOfResults, hashToken, newToken, openStore } from '@speedwatch/collector';
import type { NewAgent } from '@speedwatch/collector';
import { parseMeasurementResult } from '@speedwatch/shared';
import type { HealthMessage, MeasurementResult, Technology, UdpResult } from '@speedwatch/shared';

/** Lạng Sơn's districts (and its city), each with some of its communes and wards. */
export const LANG_SON: Readonly<Record<string, readonly string[]>> = {
  'Thành phố Lạng Sơn': ['Chi Lăng', 'Đông Kinh', 'Hoàng Văn Thụ', 'Tam Thanh', 'Vĩnh Trại'],
  'Cao Lộc': ['Hợp Thành', 'Gia Cát', 'Đồng Đăng', 'Tân Liên', 'Hải Yến'],
  'Văn Lãng': ['Na Sầm', 'Hoàng Việt', 'Tân Mỹ', 'Thụy Hùng'],
  'Tràng Định': ['Thất Khê', 'Chi Lăng', 'Kim Đồng', 'Quốc Khánh'],
  'Bình Gia': ['Bình Gia', 'Hoa Thám', 'Thiện Thuật'],
  'Văn Quan': ['Văn Quan', 'Tràng Các', 'Yên Phúc'],
  'Bắc Sơn': ['Bắc Sơn', 'Vũ Sơn', 'Hưng Vũ', 'Chiến Thắng'],
  'Hữu Lũng': ['Hữu Lũng', 'Minh Sơn', 'Đồng Tân', 'Yên Bình', 'Sơn Hà'],
  'Chi Lăng': ['Đồng Mỏ', 'Chi Lăng', 'Quang Lang', 'Vân An'],
  'Lộc Bình': ['Lộc Bình', 'Na Dương', 'Khuất Xá', 'Tú Đoạn'],
  'Đình Lập': ['Đình Lập', 'Bắc Xa', 'Thái Bình'],
};

/**
 * Near each district's centre (its town), degrees: sites are placed around it, so the fleet lies
 * in Lạng Sơn (21.3–22.5 N, 106.1–107.4 E) on the Chinese border, not in a rectangle that spills
 * into China.
 */
const DISTRICT_CENTRES: Readonly<Record<string, { lat: number; lon: number }>> = {
  'Thành phố Lạng Sơn': { lat: 21.85, lon: 106.76 },
  'Cao Lộc': { lat: 21.87, lon: 106.84 },
  'Văn Lãng': { lat: 22.0, lon: 106.56 },
  'Tràng Định': { lat: 22.23, lon: 106.47 },
  'Bình Gia': { lat: 21.95, lon: 106.37 },
  'Văn Quan': { lat: 21.86, lon: 106.55 },
  'Bắc Sơn': { lat: 21.9, lon: 106.3 },
  'Hữu Lũng': { lat: 21.5, lon: 106.35 },
  'Chi Lăng': { lat: 21.66, lon: 106.58 },
  'Lộc Bình': { lat: 21.73, lon: 106.93 },
  'Đình Lập': { lat: 21.55, lon: 107.1 },
};
/** How far from its district's centre a site may be, degrees (about 8 km). */
const SPREAD_DEGREES = 0.075;

export type SiteBehaviour = 'meets' | 'below' | 'rare' | 'went-silent' | 'never';

export interface SeededSite {
  agent: NewAgent;
  behaviour: SiteBehaviour;
  results: number;
  /** Its ok tests but the last carry a `udp` section (SeedOptions' `udp`). */
  udp: boolean;
}

const KINDS = ['school', 'office', 'clinic', 'school', 'office'] as const;
const ISPS = ['VNPT', 'Viettel', 'FPT'] as const;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Park–Miller, so every run seeds the same fleet. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 48_271) % 2_147_483_647;
    return state / 2_147_483_647;
  };
}

/**
 * The UDP quality of site number `i` whose idle latency is `latencyMs`: 500 packets of which
 * `i % 4` were lost on the way out and `i % 3` of the rest on the way back, so the losses run from
 * none to 1 % and their ratios have more than the 4 decimals the site page is rounded to
 * (2 of 497 is 0.004024…).
 */
function udpQuality(i: number, latencyMs: number): UdpResult {
  const sent = 500;
  const forwardLost = i % 4;
  const returnLost = i % 3;
  const received = sent - forwardLost - returnLost;
  return {
    port: 862,
    packetBytes: 160,
    intervalMs: 20,
    sent,
    received,
    lossRatio: (sent - received) / sent,
    forwardLossRatio: forwardLost / sent,
    returnLossRatio: returnLost / (sent - forwardLost),
    duplicates: 0,
    reordered: 0,
    rttMinMs: latencyMs * 0.9,
    rttMedianMs: latencyMs + 0.37,
    rttP95Ms: latencyMs * 1.4 + 2.06,
    rttMaxMs: latencyMs * 2 + 5,
    forwardJitterMs: 0.6 + (i % 5) * 0.35,
    returnJitterMs: 0.9 + (i % 7) * 0.41,
  };
}

function result(startedAt: number, technology: Technology, downloadMbps: number, uploadMbps: number, latencyMs: number, udp?: UdpResult): MeasurementResult {
  const throughput = (mbps: number) => {
    const bytes = Math.round(mbps * 1_000_000);
    return { mbps, bytes, durationMs: 8_000, streams: 4, warmupMs: 2_000, totalBytes: Math.round(bytes * 1.25), sampleIntervalMs: 5_000, samplesMbps: [mbps, mbps] };
  };
  return parseMeasurementResult({
    schemaVersion: 1,
    id: randomUUID(),
    status: 'ok',
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(startedAt + 24_000).toISOString(),
    technology,
    endpoint: { name: 'vnpt-ls', url: 'https://speedtest-ls.example.vn/backend/', reason: 'only' },
    agent: { version: '0.1.0', platform: 'linux', arch: 'arm64', node: 'v20.20.2' },
    latency: { count: 10, minMs: latencyMs * 0.9, medianMs: latencyMs, meanMs: latencyMs, p90Ms: latencyMs * 1.2, maxMs: latencyMs * 1.5, jitterMs: 1.5, lossRatio: 0, samplesMs: [latencyMs] },
    download: throughput(downloadMbps),
    upload: throughput(uploadMbps),
    // Bufferbloat: the round trip while the link is loaded, a few times the idle one.
    loadedLatency: { download: { count: 20, medianMs: latencyMs * 3, p90Ms: latencyMs * 4, lossRatio: 0 }, upload: { count: 20, medianMs: latencyMs * 4, p90Ms: latencyMs * 6, lossRatio: 0 } },
    ...(udp === undefined ? {} : { udp }),
  });
}

/** A test in which no endpoint answered. */
function failedResult(startedAt: number, technology: Technology): MeasurementResult {
  return parseMeasurementResult({
    schemaVersion: 1,
    id: randomUUID(),
    status: 'failed',
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(startedAt + 5_000).toISOString(),
    technology,
    agent: { version: '0.1.0', platform: 'linux', arch: 'arm64', node: 'v20.20.2' },
    error: { phase: 'select', code: 'SW_CONNECT_TIMEOUT', message: 'no endpoint answered within 5 s' },
  });
}

/** What the box of site number `i` reported with its last test at `at` (figures vary with `i`, not the generator). */
function healthReport(i: number, at: number): Omit<HealthMessage, 'type'> {
  return {
    clock: new Date(at + ((i % 7) - 3) * 1000).toISOString(),
    agent: { version: '0.1.0', platform: 'linux', arch: 'arm64', node: 'v20.20.2' },
    uptimeSeconds: (1 + (i % 20)) * 5 * 3600,
    systemUptimeSeconds: (1 + (i % 20)) * 5 * 3600 + 600,
    backlog: i % 5,
    dropped: 0,
    failedTestsInARow: 0,
    diskFreeBytes: (2 + (i % 30)) * 1_000_000_000 + 250_000_000,
    cpuTemperatureCelsius: 40 + (i % 25) + 0.5,
  };
}

export interface SeedOptions {
  sites?: number;
  days?: number;
  /** How many sites (every n-th, spread over the fleet) are registered without coordinates. */
  unplaced?: number;
  /** Every other site (even numbers from 0) that tests measures UDP quality too (SeededSite's `udp`); default false. */
  udp?: boolean;
}

/**
 * Writes `sites` sites and their results over the `days` before `now` into the database at
 * `dbPath` (created and migrated if new), and closes it. Normal sites test every 2 hours.
 */
export function seedFleet(dbPath: string, now: number, { sites = 300, days = 30, unplaced = 0, udp = false }: SeedOptions = {}): SeededSite[] {
  const random = generator(20_251_130);
  const store = openStore(dbPath);
  const seeded: SeededSite[] = [];
  try {
    // Every `every`-th site, `unplaced` of them, has no coordinates; 0: all have.
    const every = unplaced > 0 ? Math.max(1, Math.floor(sites / unplaced)) : 0;
    const places = Object.entries(LANG_SON).flatMap(([district, communes]) => communes.map((commune) => ({ district, commune })));
    for (let i = 0; i < sites; i += 1) {
      const place = places[i % places.length] as { district: string; commune: string };
      const technology: Technology = random() < 0.7 ? 'fixed' : 'mobile';
      const kind = KINDS[i % KINDS.length] as (typeof KINDS)[number];
      const roll = random();
      const behaviour: SiteBehaviour = roll < 0.02 ? 'never' : roll < 0.08 ? 'went-silent' : roll < 0.14 ? 'rare' : roll < 0.34 ? 'below' : 'meets';
      const id = `lso-${String(i + 1).padStart(3, '0')}`;
      const centre = DISTRICT_CENTRES[place.district] ?? { lat: 21.85, lon: 106.76 };
      // Uniform over a disc around the centre: villages, not a grid.
      const radius = Math.sqrt(random()) * SPREAD_DEGREES;
      const angle = random() * 2 * Math.PI;
      const lat = centre.lat + radius * Math.sin(angle);
      const lon = centre.lon + radius * Math.cos(angle);
      const placed = every === 0 || (i + 1) % every !== 0 || (i + 1) / every > unplaced;
      const agent: NewAgent = {
        id,
        name: `${kind === 'school' ? 'Trường' : kind === 'clinic' ? 'Trạm y tế' : 'UBND'} ${place.commune} ${i + 1}`,
        siteKind: kind,
        technology,
        isp: ISPS[i % ISPS.length] as string,
        area: `Lạng Sơn/${place.district}/${place.commune}`,
        ...(placed ? { lat, lon } : {}),
      };
      store.agents.add(agent, hashToken(newToken()), now - days * DAY);
      const target = technology === 'fixed' ? 102 : 42;
      const level = behaviour === 'below' ? 0.55 + random() * 0.35 : 1.08 + random() * 0.6;
      const everyMs = behaviour === 'rare' ? 8 * HOUR : 2 * HOUR;
      const stopAt = behaviour === 'went-silent' ? now - (2 + Math.floor(random() * 10)) * DAY : now;
      const results: MeasurementResult[] = [];
      const measuresUdp = udp && i % 2 === 0 && behaviour !== 'never';
      if (behaviour !== 'never') {
        for (let at = now - days * DAY + Math.floor(random() * everyMs); at < stopAt; at += everyMs) {
          const evening = new Date(at).getUTCHours() >= 12 && new Date(at).getUTCHours() < 16; // 19–23 h in Vietnam
          const download = Math.round(target * level * (evening ? 0.8 : 1) * (0.85 + random() * 0.3) * 100) / 100;
          const latency = 8 + random() * 20;
          const last = at + everyMs >= stopAt;
          const quality = measuresUdp && !last ? udpQuality(i, latency) : undefined;
          results.push(results.length % 37 === 36 ? failedResult(at, technology) : result(at, technology, download, Math.round(download * 0.4 * 100) / 100, latency, quality));
        }
      }
      for (let from = 0; from < results.length; from += 500) {
        store.writes.insertFrames([batchOfResults(id, now, results.slice(from, from + 500))]);
      }
      const last = results.at(-1);
      if (last !== undefined) {
        const at = Date.parse(last.finishedAt);
        const report = healthReport(i, at);
        store.health.save([{ agentId: id, receivedAt: at, skewMs: Date.parse(report.clock) - at, report }]);
      }
      seeded.push({ agent, behaviour, results: results.length, udp: measuresUdp });
    }
  } finally {
    store.close();
  }
  return seeded;
}
