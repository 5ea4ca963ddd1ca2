/**
 * What a lab test needs before it can run, checked once at load: root, the tools it runs (and
 * the Debian package each comes from), /dev/net/tun for the delay line. A missing one makes the
 * test skip with the reason printed, except under CI, where it fails: CI installs them all.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** The Debian package of each tool the labs run. */
const PACKAGES: Readonly<Record<string, string>> = { ip: 'iproute2', tc: 'iproute2', iperf3: 'iperf3', python3: 'python3', ping: 'iputils-ping', curl: 'curl' };

export interface LabNeeds {
  tools: readonly (keyof typeof PACKAGES | string)[];
  /** The delay line's TUN devices. */
  tun?: boolean;
  /** A further check of the test's own (Chromium, LibreSpeed's files): a reason, or undefined. */
  also?: () => string | undefined;
}

/** Why the lab cannot run here, or undefined. */
export function missingLabPrerequisite(needs: LabNeeds): string | undefined {
  if (process.getuid?.() !== 0) return `not root: network namespaces${needs.tun === true ? ' and TUN devices' : ''} need root`;
  if (needs.tun === true) {
    try {
      accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
    } catch {
      return '/dev/net/tun is missing';
    }
  }
  for (const tool of needs.tools) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (apt-get install -y ${PACKAGES[tool] ?? tool})`;
    }
  }
  return needs.also?.();
}

/**
 * Checks `needs` for the lab named `lab`: returns the reason it cannot run (the caller skips),
 * printing it; throws under CI.
 */
export function labSkipReason(lab: string, needs: LabNeeds): string | undefined {
  const missing = missingLabPrerequisite(needs);
  if (missing === undefined) return undefined;
  if (process.env['CI'] === 'true') throw new Error(`${lab} cannot run under CI: ${missing}`);
  console.warn(`${lab} SKIPPED: ${missing}`);
  return missing;
}
