/**
 * Agent releases as the collector serves them and the agent installs them (docs/fleet.md,
 * "Upgrades"): one tarball per version, `speedwatch-agent-<version>.tgz` (what `npm run release`
 * writes), at `/v1/releases/<file>` on the collector, announced to agents in the `upgrade`
 * message with its size and SHA-256.
 */
import type { Schema } from '../validate/schema.js';
import { number, string } from '../validate/schema.js';

/** Where the collector serves release tarballs: `GET /v1/releases/<file>`, with the agent's bearer token. */
export const RELEASES_PATH = '/v1/releases/';

/**
 * An agent version as release tarballs and the install directories name it: a semantic version
 * (`0.2.0`, `1.0.0-rc.1`, `1.0.0+pi`). It becomes a directory name on the box, so no `/`.
 */
export const AGENT_VERSION_PATTERN = /^\d{1,9}\.\d{1,9}\.\d{1,9}(?:-[0-9A-Za-z.-]{1,40})?(?:\+[0-9A-Za-z.-]{1,40})?$/;

export const agentVersionSchema: Schema<string> = string({ pattern: AGENT_VERSION_PATTERN, patternName: 'a version like 0.2.0 or 1.0.0-rc.1' });

/** Largest release tarball the collector serves and an agent downloads, in bytes (today's is about 0.65 MB). */
export const MAX_RELEASE_BYTES = 32 * 1024 * 1024;

/** The file name of an agent release: what `npm run release` writes for `version`. */
export function agentReleaseFile(version: string): string {
  return `speedwatch-agent-${version}.tgz`;
}

/** The version in a release file name, or undefined when the name is not an agent release's. */
export function versionOfReleaseFile(name: string): string | undefined {
  const match = /^speedwatch-agent-(.+)\.tgz$/.exec(name);
  return match?.[1] !== undefined && AGENT_VERSION_PATTERN.test(match[1]) ? match[1] : undefined;
}

/** A SHA-256 in lowercase hex. */
export const sha256Schema: Schema<string> = string({ pattern: /^[0-9a-f]{64}$/, patternName: 'a SHA-256 in 64 lowercase hex digits' });

/** The path of an announced release on the collector: under RELEASES_PATH, an agent release's file name. */
export const releasePathSchema: Schema<string> = string({
  pattern: /^\/v1\/releases\/speedwatch-agent-[0-9A-Za-z.+-]{1,100}\.tgz$/,
  patternName: 'a path like /v1/releases/speedwatch-agent-0.2.0.tgz',
});

export const releaseBytesSchema: Schema<number> = number({ min: 1, max: MAX_RELEASE_BYTES, integer: true });
