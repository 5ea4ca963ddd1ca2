/** The verdict's table cell, as the overview's area tree and slowest sites and a site's page show it. */
import { h } from './dom.js';
import type { Formatter } from './i18n.js';

/**
 * A `<td>` with the verdict's word, carrying `data-field="verdict"` and `data-verdict`; for
 * `insufficient-data`, the minimum-sample rule where it bites: `tests` counted of the `minTests` needed.
 */
export function verdictCell(verdict: string, tests: number, minTests: number, f: Formatter): HTMLElement {
  return h(
    'td',
    { class: `verdict v-${verdict}`, 'data-field': 'verdict', 'data-verdict': verdict },
    f.t.verdicts[verdict] ?? verdict,
    verdict === 'insufficient-data' ? h('small', { class: 'bites', 'data-field': 'rule', title: f.t.needsTitle }, f.t.needs(f.count(tests), f.count(minTests))) : null,
  );
}
