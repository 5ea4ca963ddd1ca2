/**
 * The overview's map: each site with coordinates as a dot coloured by its own verdict over the
 * window, over the country outlines (map-outlines.ts), in SVG with a Mercator projection fitted
 * to the fleet's bounding box. Offline: no tiles, nothing from another origin.
 *
 * A fleet can reach 10 000 sites, so dots are not elements: each verdict is one <path> of
 * zero-length segments with round caps (`M x y h0`), four paths whatever the fleet's size, with
 * `data-sites` listing the ids in the order drawn (the browser test reads them back). Which dot
 * is under the pointer is found by distance over the projected points; a click opens its site.
 */
import { geoMercator, geoPath } from 'd3-geo';
import type { GeoProjection } from 'd3-geo';
import type { MultiPoint } from 'geojson';
import type { MapSite, OverviewVerdict } from '../../src/api/overview-wire.js';
import { h } from './dom.js';
import type { Formatter } from './i18n.js';
import { hrefOf } from './links.js';
import { HOME_COUNTRY } from './map-outlines.js';
import type { Outlines } from './map-outlines.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
/** The drawing's width in SVG units; its height follows the fleet's shape (HEIGHTS). */
const WIDTH = 960;
const HEIGHTS = { min: 540, max: 720 } as const;
/** Room between the outermost sites and the edge, SVG units. */
const MARGIN = 28;
/** The least span a view covers, degrees (about 5 km): one site, or a fleet in one village. */
const MIN_SPAN_DEGREES = 0.05;
/** Vietnam's extent, for a map with no site placed and no outlines. */
const VIETNAM_BOX: readonly [number, number, number, number] = [102.1, 8.4, 109.5, 23.4];
/** Drawn bottom to top: the sites that need attention last, so they stay visible. */
const VERDICTS: readonly OverviewVerdict[] = ['no-data', 'insufficient-data', 'meets', 'below'];
/** A country is named on the map when at least this share of the drawing is its land. */
const LABEL_MIN_SHARE = 0.04;
/** How near the pointer a dot is picked, screen pixels; a finger is less precise than a mouse. */
const PICK_PX = { mouse: 9, touch: 18 } as const;

interface Placed {
  site: MapSite;
  x: number;
  y: number;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string> = {}): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  return element;
}

/** The map section: a technology switch, the drawing with its tooltip, the legend, and what is not on it. */
export function siteMap(sites: readonly MapSite[], outlines: Outlines | undefined, f: Formatter): HTMLElement {
  const { t } = f;
  const { projection, height } = viewOf(sites, outlines);
  const drawing = svg('svg', { viewBox: `0 0 ${WIDTH} ${height}`, class: 'map', role: 'img', 'aria-label': t.map.label(f.count(sites.length)) });
  drawing.append(svg('rect', { class: 'sea', width: String(WIDTH), height: String(height) }));
  if (outlines !== undefined) {
    const path = geoPath(projection).digits(1);
    const land = svg('g', { class: 'outlines' });
    const names = svg('g', { class: 'names', 'aria-hidden': 'true' });
    // Neighbours first, the home country over them: its border line stays whole.
    const ordered = [...outlines.features].sort((a, b) => Number(String(a.id) === HOME_COUNTRY) - Number(String(b.id) === HOME_COUNTRY));
    for (const country of ordered) {
      const d = path(country);
      if (d === null || d === '') continue;
      land.append(svg('path', { class: String(country.id) === HOME_COUNTRY ? 'country home' : 'country', 'data-country': country.properties.name, d }));
      // Named where enough of it is in view; centroid and area are of the part in view.
      if (path.area(country) < LABEL_MIN_SHARE * WIDTH * height) continue;
      const [x, y] = path.centroid(country);
      const name = svg('text', { class: 'country-name', x: x.toFixed(0), y: y.toFixed(0), 'text-anchor': 'middle' });
      name.textContent = (t.map.countries[country.properties.name] ?? country.properties.name).toLocaleUpperCase(f.lang);
      names.append(name);
    }
    drawing.append(land, names);
  }
  const hover = svg('path', { class: 'hover', d: '' });
  const dots = new Map(VERDICTS.map((v) => [v, svg('path', { class: `dots v-${v}`, 'data-verdict': v, d: '' })]));
  drawing.append(hover, ...dots.values());

  const placed: Placed[] = [];
  for (const site of sites) {
    if (site.lat === null || site.lon === null) continue;
    const point = projection([site.lon, site.lat]);
    if (point === null) continue;
    placed.push({ site, x: Math.round(point[0] * 10) / 10, y: Math.round(point[1] * 10) / 10 });
  }

  // Smaller dots for a larger fleet, so that thousands still show their mix of colours.
  drawing.style.setProperty('--dot', `${dotPx(placed.length)}px`);

  const tip = h('div', { class: 'map-tip', role: 'status' });
  tip.hidden = true;
  const frame = h('div', { class: 'map-frame' }, drawing, tip);
  const counts = new Map(VERDICTS.map((v) => [v, h('span', { class: 'value', 'data-field': `map-${v}` })]));
  const legend = h(
    'ul',
    { class: 'legend' },
    ...[...VERDICTS].reverse().map((v) => h('li', { 'data-verdict': v }, h('span', { class: `swatch v-${v}`, 'aria-hidden': 'true' }), h('span', { class: 'label' }, t.verdicts[v] ?? v), ' ', counts.get(v))),
  );
  const unplaced = h('p', { class: 'map-note', 'data-field': 'unplaced' });

  let technology = 'all';
  let shown: Placed[] = [];
  const draw = (): void => {
    const chosen = placed.filter((p) => technology === 'all' || p.site.technology === technology);
    // In drawing order, so that picking among dots at one spot takes the one on top.
    shown = VERDICTS.flatMap((verdict) => chosen.filter((p) => p.site.verdict === verdict));
    for (const verdict of VERDICTS) {
      const mine = chosen.filter((p) => p.site.verdict === verdict);
      const path = dots.get(verdict);
      path?.setAttribute('d', mine.map((p) => `M${p.x} ${p.y}h0`).join(''));
      path?.setAttribute('data-sites', mine.map((p) => p.site.id).join(' '));
      const count = counts.get(verdict);
      if (count !== undefined) count.textContent = f.count(mine.length);
    }
    const missing = sites.filter((s) => (technology === 'all' || s.technology === technology) && (s.lat === null || s.lon === null)).length;
    unplaced.textContent = missing === 0 ? '' : t.map.unplaced(f.count(missing));
    unplaced.hidden = missing === 0;
    pick(undefined);
  };

  /** The dot nearest the pointer within reach, or undefined. */
  const nearest = (event: PointerEvent | MouseEvent): Placed | undefined => {
    const matrix = drawing.getScreenCTM();
    if (matrix === null || matrix.a === 0) return undefined;
    const at = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
    const reach = ('pointerType' in event && event.pointerType === 'touch' ? PICK_PX.touch : PICK_PX.mouse) / matrix.a;
    let best: Placed | undefined;
    let bestDistance = reach * reach;
    for (const p of shown) {
      const distance = (p.x - at.x) ** 2 + (p.y - at.y) ** 2;
      // Later dots are drawn on top: at an equal distance, the one seen wins.
      if (distance <= bestDistance) {
        best = p;
        bestDistance = distance;
      }
    }
    return best;
  };

  const pick = (p: Placed | undefined, event?: PointerEvent): void => {
    drawing.classList.toggle('picking', p !== undefined);
    if (p === undefined || event === undefined) {
      hover.setAttribute('d', '');
      tip.hidden = true;
      return;
    }
    hover.setAttribute('d', `M${p.x} ${p.y}h0`);
    tip.replaceChildren(
      h('strong', {}, p.site.name),
      h('small', { class: 'id' }, p.site.id),
      h('span', {}, `${t.technology[p.site.technology] ?? p.site.technology} · `, h('span', { class: `verdict v-${p.site.verdict}` }, t.verdicts[p.site.verdict] ?? p.site.verdict)),
    );
    tip.hidden = false;
    const box = frame.getBoundingClientRect();
    const x = event.clientX - box.left;
    const y = event.clientY - box.top;
    // Beside the pointer, on the side with room.
    tip.style.left = `${x + tip.offsetWidth + 16 > box.width ? Math.max(0, x - tip.offsetWidth - 12) : x + 12}px`;
    tip.style.top = `${y + tip.offsetHeight + 16 > box.height ? Math.max(0, y - tip.offsetHeight - 12) : y + 12}px`;
  };

  drawing.addEventListener('pointermove', (event) => pick(nearest(event), event));
  drawing.addEventListener('pointerleave', () => pick(undefined));
  drawing.addEventListener('click', (event) => {
    const p = nearest(event);
    if (p !== undefined) window.location.hash = hrefOf('site', p.site.id);
  });

  const technologies = [...new Set(sites.map((s) => s.technology))];
  const switcher = h(
    'div',
    { class: 'map-switch', role: 'group', 'aria-label': t.map.title },
    ...['all', ...technologies].map((value) => {
      const button = h('button', { type: 'button', 'data-value': value, 'aria-pressed': String(value === technology) }, value === 'all' ? t.map.all : (t.technology[value] ?? value));
      button.addEventListener('click', () => {
        technology = value;
        for (const b of switcher.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset['value'] === value));
        draw();
      });
      return button;
    }),
  );

  draw();
  return h(
    'section',
    { class: 'map-section', 'aria-label': t.map.title },
    h('div', { class: 'map-head' }, h('h2', {}, t.map.title), switcher),
    h(
      'div',
      { class: 'map-layout' },
      frame,
      h(
        'div',
        { class: 'map-side' },
        legend,
        unplaced,
        outlines === undefined ? h('p', { class: 'map-note' }, t.map.noOutlines) : null,
        h('p', { class: 'map-note' }, t.map.open),
        h('p', { class: 'map-note source' }, t.map.source),
      ),
    ),
  );
}

/** A dot's diameter in screen pixels: 8 up to 500 sites, then shrinking as 1/√n to 3. */
function dotPx(sites: number): number {
  return Math.round(Math.min(8, Math.max(3, 8 * Math.sqrt(500 / Math.max(1, sites)))) * 10) / 10;
}

/**
 * A Mercator projection fitted to the placed sites' bounding box (else to Vietnam) with a
 * margin, and the drawing's height for that box's shape, clipped to the drawing.
 */
function viewOf(sites: readonly MapSite[], outlines: Outlines | undefined): { projection: GeoProjection; height: number } {
  let [west, south, east, north] = boxOf(sites) ?? homeBox(outlines) ?? VIETNAM_BOX;
  if (east - west < MIN_SPAN_DEGREES) [west, east] = [(west + east - MIN_SPAN_DEGREES) / 2, (west + east + MIN_SPAN_DEGREES) / 2];
  if (north - south < MIN_SPAN_DEGREES) [south, north] = [(south + north - MIN_SPAN_DEGREES) / 2, (south + north + MIN_SPAN_DEGREES) / 2];
  const corners: MultiPoint = {
    type: 'MultiPoint',
    coordinates: [
      [west, south],
      [east, north],
    ],
  };
  const unit = geoMercator().scale(1).translate([0, 0]);
  const [x0, y0] = unit([west, north]) ?? [0, 0];
  const [x1, y1] = unit([east, south]) ?? [1, 1];
  const inner = WIDTH - 2 * MARGIN;
  const height = Math.round(Math.min(HEIGHTS.max, Math.max(HEIGHTS.min, (inner * (y1 - y0)) / (x1 - x0) + 2 * MARGIN)));
  const projection = geoMercator()
    .fitExtent(
      [
        [MARGIN, MARGIN],
        [WIDTH - MARGIN, height - MARGIN],
      ],
      corners,
    )
    .clipExtent([
      [0, 0],
      [WIDTH, height],
    ]);
  return { projection, height };
}

function boxOf(sites: readonly MapSite[]): [number, number, number, number] | undefined {
  let box: [number, number, number, number] | undefined;
  for (const { lat, lon } of sites) {
    if (lat === null || lon === null) continue;
    if (box === undefined) box = [lon, lat, lon, lat];
    else box = [Math.min(box[0], lon), Math.min(box[1], lat), Math.max(box[2], lon), Math.max(box[3], lat)];
  }
  return box;
}

function homeBox(outlines: Outlines | undefined): [number, number, number, number] | undefined {
  const home = outlines?.features.find((c) => String(c.id) === HOME_COUNTRY);
  if (home === undefined) return undefined;
  const points = home.geometry.coordinates.flat(2);
  if (points.length === 0) return undefined;
  const lons = points.map((p) => p[0] ?? 0);
  const lats = points.map((p) => p[1] ?? 0);
  return [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)];
}
