import { describe, expect, it } from 'vitest';
import { AgentSeries, escapeLabel, UDP_FAMILIES } from '../src/metrics/agent-series.js';
import type { UdpValues } from '../src/metrics/agent-series.js';

describe('AgentSeries', () => {
  it('escapes backslash, double quote and newline in label values, as the text format requires', () => {
    expect(escapeLabel('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  });

  it('renders HELP and TYPE for every family, one line per agent with a value, none for absent values', () => {
    const series = new AgentSeries();
    series.ensure({ agent_id: 'school-1', site_kind: 'school', technology: 'fixed', isp: 'VNPT', area: 'Lạng Sơn/"Cao" Lộc' });
    series.set('school-1', 'download', 13_750_000);
    series.setVerdicts('school-1', [['24h', 'meets']]);
    series.setVerdicts('ghost', [['24h', 'below']]);
    const text = series.render().toString();
    expect(text).toContain('# TYPE speedwatch_agent_download_bytes_per_second gauge\nspeedwatch_agent_download_bytes_per_second{agent_id="school-1",site_kind="school",technology="fixed",isp="VNPT",area="Lạng Sơn/\\"Cao\\" Lộc"} 13750000\n');
    expect(text).toContain('speedwatch_agent_connected{agent_id="school-1",site_kind="school",technology="fixed",isp="VNPT",area="Lạng Sơn/\\"Cao\\" Lộc"} 0\n');
    expect(text).not.toMatch(/^speedwatch_agent_upload_bytes_per_second\{/m);
    expect(text).toContain('speedwatch_agent_verdict{agent_id="school-1",window="24h",verdict="meets"} 1\n');
    expect(text).not.toContain('ghost');
    series.remove('school-1');
    expect(series.render().toString()).not.toContain('school-1');
  });

  it('renders the UDP families only for agents with UDP quality, each family\'s lines together, with the site\'s labels then their own', () => {
    const series = new AgentSeries();
    const udp = (rtt: number): UdpValues => ({ rttMedian: rtt, rttP95: 2 * rtt, jitterUp: 0.001, jitterDown: 0.002, lossUp: 0.01, lossDown: 0, lossRoundTrip: 0.015, startedAt: 1_767_571_200 });
    for (const id of ['a', 'b', 'c']) series.ensure({ agent_id: id, site_kind: 'school', technology: 'fixed', isp: '', area: 'X' });
    series.setUdp('a', udp(0.02));
    series.setUdp('c', udp(0.04));
    series.setUdp('ghost', udp(1));
    const labels = (id: string): string => `agent_id="${id}",site_kind="school",technology="fixed",isp="",area="X"`;
    const lines = series.render().toString().split('\n').filter((l) => l.startsWith('speedwatch_agent_udp_'));
    expect(lines).toEqual([
      `speedwatch_agent_udp_rtt_median_seconds{${labels('a')}} 0.02`,
      `speedwatch_agent_udp_rtt_median_seconds{${labels('c')}} 0.04`,
      `speedwatch_agent_udp_rtt_p95_seconds{${labels('a')}} 0.04`,
      `speedwatch_agent_udp_rtt_p95_seconds{${labels('c')}} 0.08`,
      `speedwatch_agent_udp_jitter_seconds{${labels('a')},direction="up"} 0.001`,
      `speedwatch_agent_udp_jitter_seconds{${labels('a')},direction="down"} 0.002`,
      `speedwatch_agent_udp_jitter_seconds{${labels('c')},direction="up"} 0.001`,
      `speedwatch_agent_udp_jitter_seconds{${labels('c')},direction="down"} 0.002`,
      `speedwatch_agent_udp_loss_ratio{${labels('a')},direction="up"} 0.01`,
      `speedwatch_agent_udp_loss_ratio{${labels('a')},direction="down"} 0`,
      `speedwatch_agent_udp_loss_ratio{${labels('c')},direction="up"} 0.01`,
      `speedwatch_agent_udp_loss_ratio{${labels('c')},direction="down"} 0`,
      `speedwatch_agent_udp_round_trip_loss_ratio{${labels('a')}} 0.015`,
      `speedwatch_agent_udp_round_trip_loss_ratio{${labels('c')}} 0.015`,
      `speedwatch_agent_udp_last_result_timestamp_seconds{${labels('a')}} 1767571200`,
      `speedwatch_agent_udp_last_result_timestamp_seconds{${labels('c')}} 1767571200`,
    ]);
    // Every family's HELP and TYPE once, whether or not an agent has a value.
    const empty = new AgentSeries().render().toString();
    for (const [name] of UDP_FAMILIES) expect(empty).toContain(`# TYPE ${name} gauge\n`);
    // New labels reach the UDP lines too.
    series.ensure({ agent_id: 'a', site_kind: 'clinic', technology: 'mobile', isp: '', area: 'X' });
    expect(series.render().toString()).toContain('speedwatch_agent_udp_rtt_median_seconds{agent_id="a",site_kind="clinic",technology="mobile",isp="",area="X"} 0.02\n');
  });
});
