/**
 * The console map's country outlines, cut at build time from world-atlas (Natural Earth 1:10m
 * countries, public domain) so the page ships a small asset instead of the world: Vietnam and
 * its neighbours (China, Laos, Cambodia, Thailand), clipped to a box around Vietnam wide enough
 * for any view of a Vietnamese fleet, coordinates rounded to 3 decimals (about 100 m, finer than
 * the 1:10m lines themselves). The result is GeoJSON the console draws with d3-geo, offline.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { geoArea, geoIdentity, geoStream } from 'd3-geo';
import type { GeoStream } from 'd3-geo';
import type { Feature, FeatureCollection, MultiPolygon, Polygon, Position } from 'geojson';
import { feature } from 'topojson-client';
import type { Topology, GeometryCollection } from 'topojson-specification';

/** ISO 3166-1 numeric codes, as world-atlas ids them: Vietnam first, the rest drawn as neighbours. */
export const BOUNDARY_COUNTRIES: Readonly<Record<string, string>> = Object.freeze({ '704': 'Vietnam', '156': 'China', '418': 'Laos', '116': 'Cambodia', '764': 'Thailand' });

/**
 * [[west, south], [east, north]] in degrees. Vietnam spans 102.1–109.5 E and 8.4–23.4 N; a view
 * fitted to a fleet over the whole country in a 16:10 map reaches about 93–119 E, so the box
 * leaves no visible edge.
 */
export const BOUNDARY_BOX: readonly [[number, number], [number, number]] = [
  [92, 5],
  [120, 28],
];

const DECIMALS = 3;

/** Properties each outline carries. */
export interface BoundaryProperties {
  name: string;
}

export type Boundaries = FeatureCollection<MultiPolygon, BoundaryProperties>;

/** The outlines, from the installed world-atlas. */
export function buildBoundaries(): Boundaries {
  const require = createRequire(import.meta.url);
  const topology = JSON.parse(readFileSync(require.resolve('world-atlas/countries-10m.json'), 'utf8')) as Topology<{ countries: GeometryCollection<{ name: string }> }>;
  const countries = feature(topology, topology.objects.countries);
  const features: Feature<MultiPolygon, BoundaryProperties>[] = [];
  for (const [id, name] of Object.entries(BOUNDARY_COUNTRIES)) {
    const country = countries.features.find((f) => String(f.id) === id);
    if (country === undefined) throw new Error(`world-atlas countries-10m has no country ${id} (${name})`);
    features.push({ type: 'Feature', id, properties: { name }, geometry: { type: 'MultiPolygon', coordinates: clipped(country) } });
  }
  return { type: 'FeatureCollection', features };
}

/** The country's polygons cut to BOUNDARY_BOX, rounded, each wound as d3-geo reads a polygon. */
function clipped(country: Feature): Position[][][] {
  const polygons: Position[][][] = [];
  let polygon: Position[][] = [];
  let ring: Position[] = [];
  const f = 10 ** DECIMALS;
  const sink: GeoStream = {
    point(x, y) {
      const p = [Math.round(x * f) / f, Math.round(y * f) / f] as const;
      const last = ring.at(-1);
      if (last === undefined || last[0] !== p[0] || last[1] !== p[1]) ring.push([p[0], p[1]]);
    },
    lineStart() {
      ring = [];
    },
    lineEnd() {
      if (ring.length < 3) return;
      const first = ring[0] as Position;
      const last = ring.at(-1) as Position;
      if (first[0] !== last[0] || first[1] !== last[1]) ring.push([first[0] as number, first[1] as number]);
      if (ring.length >= 4) polygon.push(ring);
    },
    polygonStart() {
      polygon = [];
    },
    polygonEnd() {
      if (polygon.length > 0) polygons.push(polygon);
    },
    sphere() {},
  };
  // A planar clip in degrees: geoIdentity is x = longitude, y = latitude.
  geoStream(country, geoIdentity().clipExtent(BOUNDARY_BOX.map((p) => [...p]) as [[number, number], [number, number]]).stream(sink));
  // d3-geo reads rings on the sphere: an outer ring wound the other way is the rest of the
  // world. The clip does not keep the winding, so each polygon larger than a hemisphere is turned.
  return polygons.map((rings) => (geoArea({ type: 'Polygon', coordinates: rings } satisfies Polygon) > 2 * Math.PI ? rings.map((r) => [...r].reverse()) : rings));
}
