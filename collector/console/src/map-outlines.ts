/**
 * The map's country outlines: a GeoJSON asset the build cuts from Natural Earth 1:10m
 * (test/console/build-boundaries.ts: Vietnam, China, Laos, Cambodia, Thailand around Vietnam)
 * and serves beside the script under a content-hashed name, so it is fetched once and cached.
 */
import type { FeatureCollection, MultiPolygon } from 'geojson';

/** Set by the build (esbuild `define`): `/console/assets/boundaries-<hash>.json`. */
declare const SPEEDWATCH_BOUNDARIES_URL: string;

/** ISO 3166-1 numeric id of the country the fleet is in (world-atlas ids). */
export const HOME_COUNTRY = '704';

export type Outlines = FeatureCollection<MultiPolygon, { name: string }>;

/**
 * The outlines, or undefined when they cannot be had (an old build, a proxy's error page): the
 * map then draws its sites without them and says so.
 */
export async function fetchOutlines(): Promise<Outlines | undefined> {
  try {
    const res = await fetch(SPEEDWATCH_BOUNDARIES_URL, { credentials: 'same-origin' });
    if (!res.ok) return undefined;
    const body = (await res.json()) as unknown;
    return isOutlines(body) ? body : undefined;
  } catch {
    // The map is drawn without outlines and a note says they are missing.
    return undefined;
  }
}

function isOutlines(value: unknown): value is Outlines {
  if (typeof value !== 'object' || value === null) return false;
  const { type, features } = value as { type?: unknown; features?: unknown };
  return (
    type === 'FeatureCollection' &&
    Array.isArray(features) &&
    features.every((f: unknown) => {
      const geometry = (f as { geometry?: { type?: unknown; coordinates?: unknown } } | null)?.geometry;
      return geometry?.type === 'MultiPolygon' && Array.isArray(geometry.coordinates);
    })
  );
}
