/**
 * `speedwatch-agent install-service`: turns a box with Node and the agent's package into an
 * enrolled agent running under systemd. It refuses before writing anything when it could not
 * finish (Node too old, not root, node where the service cannot see it, a mistyped code, a box
 * already enrolled); then it creates the service user, the directories and the unit, enrolls,
 * gives the data to the user and starts the service, saying what each step did. The process
 * concerns (argv, who runs it, whether systemd runs, waiting for the first test) are the
 * caller's: they come in as options and an InstallHost.
 */
import { chmod, lchown, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Enrolled } from '../enroll/enroll.js';
import { enroll, planEnrollment } from '../enroll/enroll.js';
import { replaceFileDurably } from '../outbox/durable-fs.js';
import { InstallError } from './install-error.js';
import { renderAgentUnit, UNIT_FILE, UNIT_NAME } from './systemd-unit.js';

/** Where install-service puts things on the box (the shipped unit names the same paths). */
export const CONFIG_DIR = '/etc/speedwatch';
export const CONFIG_FILE = `${CONFIG_DIR}/agent.yaml`;
/** A `--ca` file is copied here: the service cannot read /root or /home (ProtectHome=yes). */
export const CA_FILE = `${CONFIG_DIR}/collector-ca.pem`;
export const DATA_DIR = '/var/lib/speedwatch';

/** Paths the unit's ProtectHome=yes and PrivateTmp=yes hide from the service. */
const HIDDEN_FROM_SERVICE = ['/home/', '/root/', '/run/user/', '/tmp/', '/var/tmp/'];

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** What install-service needs from the machine it runs on. */
export interface InstallHost {
  /** This process's user id; undefined where there is none. */
  uid: number | undefined;
  /** True when systemd runs this machine (`/run/systemd/system` exists). */
  systemdRunning: boolean;
  /** Runs a command to completion and resolves whatever its exit status; rejects if it cannot be started. */
  run: (command: string, args: readonly string[]) => Promise<CommandResult>;
  /** One line for the person installing. */
  say: (line: string) => void;
}

export interface InstallServiceOptions {
  /** The collector's agent URL, `wss://HOST:PORT/v1/agents`. */
  collectorUrl: string;
  /** The one-time enrollment code as typed. */
  code: string;
  /** A CA file (PEM) on this machine for a wss:// collector with a private certificate; copied to CA_FILE. */
  caFile?: string;
  /** The user and group the service runs as; created if missing. */
  user: string;
  /** Install under this directory instead of `/` (an image being prepared, a test): no user is created, nothing is chowned or started. */
  root: string;
  /** Run `systemctl enable --now` when systemd runs this machine. */
  start: boolean;
  /** Enroll again over an existing config (the old token stops working once the new code is used). */
  force: boolean;
  /** The text of the shipped unit (deploy/systemd/speedwatch-agent.service). */
  unitTemplate: string;
  /** The node binary and the agent's bin script the unit runs: the ones running now, real paths. */
  nodePath: string;
  binPath: string;
  /** The running Node's version (`process.versions.node`) and the package's `engines.node` (`>=X.Y.Z`). */
  nodeVersion: string;
  nodeRange: string;
}

export interface InstalledService {
  enrolled: Enrolled;
  /** True if `systemctl enable --now` ran. */
  started: boolean;
  /** The data dir and the unit file on this machine's disk (under `root`). */
  dataDirOnDisk: string;
  unitFileOnDisk: string;
}

/** True if `version` (`20.18.1` or `v20.18.1`) satisfies `range`, which must be `>=X.Y.Z`. */
export function nodeSatisfies(version: string, range: string): boolean {
  const min = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(range.trim());
  if (min === null) throw new Error(`engines.node ${JSON.stringify(range)}: only >=X.Y.Z is understood`);
  const have = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (have === null) return false;
  for (let i = 1; i <= 3; i++) {
    const diff = Number(have[i]) - Number(min[i]);
    if (diff !== 0) return diff > 0;
  }
  return true;
}

function stepFailed(step: string, detail: string, cause?: unknown): InstallError {
  return new InstallError('SW_INSTALL_FAILED', `${step}: ${detail}`, cause === undefined ? undefined : { cause });
}

async function attempt<T>(step: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (err) {
    throw stepFailed(step, err instanceof Error ? err.message : String(err), err);
  }
}

/** Runs a command that must succeed; the error names the step, the command and what it printed. */
async function must(host: InstallHost, step: string, command: string, args: readonly string[]): Promise<CommandResult> {
  const result = await attempt(step, () => host.run(command, args));
  if (result.code !== 0) {
    const said = (result.stderr.trim() || result.stdout.trim()).slice(0, 1000);
    throw stepFailed(step, `\`${[command, ...args].join(' ')}\` exited ${result.code ?? 'on a signal'}${said === '' ? '' : `: ${said}`}`);
  }
  return result;
}

interface Account {
  uid: number;
  gid: number;
}

/** The user's ids from `getent passwd`, or undefined if there is no such user. */
async function lookUpUser(host: InstallHost, user: string): Promise<Account | undefined> {
  const found = await attempt(`looking up the user ${user}`, () => host.run('getent', ['passwd', user]));
  if (found.code === 2) return undefined;
  const fields = found.stdout.trim().split(':');
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (found.code !== 0 || !Number.isInteger(uid) || !Number.isInteger(gid)) throw stepFailed(`looking up the user ${user}`, `\`getent passwd ${user}\` exited ${found.code ?? 'on a signal'} with ${JSON.stringify(found.stdout.trim())}`);
  return { uid, gid };
}

/** The service's account, created as a system user without a home or a login shell if missing. */
async function ensureUser(host: InstallHost, user: string): Promise<Account> {
  const existing = await lookUpUser(host, user);
  if (existing !== undefined) {
    host.say(`User ${user}: exists (uid ${existing.uid}, gid ${existing.gid}).`);
    return existing;
  }
  const group = await attempt(`looking up the group ${user}`, () => host.run('getent', ['group', user]));
  const groupArgs = group.code === 0 ? ['--gid', user] : ['--user-group'];
  await must(host, `creating the user ${user}`, 'useradd', ['--system', '--no-create-home', '--home-dir', DATA_DIR, '--shell', '/usr/sbin/nologin', ...groupArgs, user]);
  const created = await lookUpUser(host, user);
  if (created === undefined) throw stepFailed(`creating the user ${user}`, 'useradd succeeded but getent does not find the user');
  host.say(`User ${user}: created (system user, uid ${created.uid}, no home, no login shell).`);
  return created;
}

/** `dir` and everything under it, owned by `account` (symbolic links themselves, not what they point at). */
async function chownTree(dir: string, account: Account): Promise<void> {
  await lchown(dir, account.uid, account.gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(path, account);
    else await lchown(path, account.uid, account.gid);
  }
}

/**
 * Installs the agent as a systemd service; see the file's comment. Throws InstallError,
 * EnrollmentCodeError or EnrollError; the ones thrown before the first write say so.
 */
export async function installService(o: InstallServiceOptions, host: InstallHost): Promise<InstalledService> {
  // 1. Everything that can refuse, before anything is written.
  if (!nodeSatisfies(o.nodeVersion, o.nodeRange)) {
    throw new InstallError('SW_INSTALL_NODE_VERSION', `Node.js ${o.nodeVersion} (${o.nodePath}) is too old: the agent needs ${o.nodeRange}. Install Node.js 20.18.1 or newer (NodeSource setup_20.x, or the nodejs.org tarball in /usr/local), npm install -g the agent with it, and run install-service again`);
  }
  const onBox = o.root === '/';
  if (onBox && host.uid !== 0) {
    throw new InstallError('SW_INSTALL_NOT_ROOT', 'install-service creates a user, writes to /etc and /var/lib and starts a service: run it as root (sudo speedwatch-agent install-service …)');
  }
  const hidden = [o.nodePath, o.binPath].filter((path) => HIDDEN_FROM_SERVICE.some((prefix) => path.startsWith(prefix)));
  if (onBox && hidden.length > 0) {
    throw new InstallError('SW_INSTALL_PATH_HIDDEN', `${hidden.join(' and ')} cannot be run by the service: its ProtectHome=yes and PrivateTmp=yes hide ${HIDDEN_FROM_SERVICE.join(', ')}. Install Node.js for the whole system (NodeSource, or /usr/local), npm install -g the agent with it, and run install-service with that node`);
  }
  const enrollOptions = { collectorUrl: o.collectorUrl, code: o.code, configFile: CONFIG_FILE, dataDir: DATA_DIR, root: o.root, force: o.force };
  await planEnrollment(enrollOptions);
  const ca = o.caFile === undefined ? undefined : await attempt(`reading the CA file ${o.caFile}`, () => readFile(o.caFile as string));
  const onDisk = (path: string): string => (onBox ? path : join(o.root, path));
  const unit = renderAgentUnit(o.unitTemplate, { nodePath: o.nodePath, binPath: o.binPath, user: o.user });
  host.say(`Node.js ${o.nodeVersion} (${o.nodePath}); agent ${o.binPath}.`);

  // 2. The service's user, and the directories.
  let account: Account | undefined;
  if (onBox) {
    account = await ensureUser(host, o.user);
  } else {
    host.say(`User ${o.user}: not created and nothing chowned to it, since --root ${o.root} is not /. On the box: useradd --system --no-create-home --home-dir ${DATA_DIR} --shell /usr/sbin/nologin --user-group ${o.user}; chown -R ${o.user}:${o.user} ${DATA_DIR}; chgrp ${o.user} ${CONFIG_FILE}`);
  }
  await attempt(`creating ${onDisk(CONFIG_DIR)}`, async () => {
    await mkdir(onDisk(CONFIG_DIR), { recursive: true });
    await chmod(onDisk(CONFIG_DIR), 0o755);
  });
  await attempt(`creating ${onDisk(DATA_DIR)}`, async () => {
    await mkdir(onDisk(DATA_DIR), { recursive: true });
    await chmod(onDisk(DATA_DIR), 0o750);
    if (account !== undefined) await lchown(onDisk(DATA_DIR), account.uid, account.gid);
  });
  host.say(`Directories: ${onDisk(CONFIG_DIR)} (0755), ${onDisk(DATA_DIR)} (0750${account === undefined ? '' : `, ${o.user}`}).`);

  // 3. The unit, and the CA file where the service can read it.
  await attempt(`writing ${onDisk(UNIT_FILE)}`, async () => {
    await mkdir(join(onDisk(UNIT_FILE), '..'), { recursive: true });
    await replaceFileDurably(onDisk(UNIT_FILE), unit, 0o644);
    await chmod(onDisk(UNIT_FILE), 0o644);
  });
  host.say(`Unit: ${onDisk(UNIT_FILE)} (runs ${o.nodePath} ${o.binPath} as ${o.user}).`);
  if (ca !== undefined) {
    await attempt(`copying the CA file to ${onDisk(CA_FILE)}`, async () => {
      await replaceFileDurably(onDisk(CA_FILE), ca, 0o644);
      await chmod(onDisk(CA_FILE), 0o644);
    });
    host.say(`CA: ${o.caFile} copied to ${onDisk(CA_FILE)}.`);
  }

  // 4. Enrollment, then the data and the config for the service's user.
  const enrolled = await enroll({ ...enrollOptions, ...(ca === undefined ? {} : { caFile: CA_FILE }) });
  const s = enrolled.site;
  host.say(`Enrolled as agent ${enrolled.agentId}: ${s.name} (${s.kind}, ${s.technology}${s.area === undefined ? '' : `, ${s.area}`}${s.isp === undefined ? '' : `, ${s.isp}`}); config ${onDisk(CONFIG_FILE)}, token ${onDisk(enrolled.tokenFile)} (0600).`);
  if (enrolled.settings?.endpoints === undefined) host.say('The collector gave no endpoints yet: the box tests once it does (or add endpoints.urls to the config).');
  if (account !== undefined) {
    const owner = account;
    await attempt(`giving ${DATA_DIR} to ${o.user}`, () => chownTree(DATA_DIR, owner));
    await attempt(`letting ${o.user} read ${CONFIG_FILE}`, () => lchown(CONFIG_FILE, 0, owner.gid));
  }

  // 5. Start it, or say how.
  const startNow = `systemctl daemon-reload && systemctl enable --now ${UNIT_NAME}`;
  if (!o.start || !onBox || !host.systemdRunning) {
    const why = !o.start ? '--no-start' : !onBox ? `--root ${o.root}` : 'systemd does not run this machine (no /run/systemd/system)';
    host.say(`Not started (${why}). The unit is ${onDisk(UNIT_FILE)}; on the box, as root:`);
    host.say(`  ${startNow}`);
    host.say(`  speedwatch-agent first-test --data-dir ${DATA_DIR}    # waits for the first test and shows it`);
    if (onBox && o.start) host.say(`Without systemd, run the daemon as ${o.user}: runuser -u ${o.user} -- ${o.nodePath} ${o.binPath} run --config ${CONFIG_FILE}`);
    return { enrolled, started: false, dataDirOnDisk: onDisk(DATA_DIR), unitFileOnDisk: onDisk(UNIT_FILE) };
  }
  await must(host, 'reloading systemd', 'systemctl', ['daemon-reload']);
  await must(host, `starting ${UNIT_NAME}`, 'systemctl', ['enable', '--now', UNIT_NAME]);
  host.say(`Started: ${UNIT_NAME} is enabled and running (journalctl -u ${UNIT_NAME} -f shows its log).`);
  return { enrolled, started: true, dataDirOnDisk: DATA_DIR, unitFileOnDisk: UNIT_FILE };
}
