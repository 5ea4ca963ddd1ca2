import { describe, expect, it } from 'vitest';
import { AgentSeries, escapeLabel } from '../src/metrics/agent-series.js';

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
});
