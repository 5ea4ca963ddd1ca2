/**
 * The agent's systemd unit, made from the one the package ships
 * (`deploy/systemd/speedwatch-agent.service`), which is both the unit for an install by hand and
 * the template `install-service` fills in: the node and the agent named in its
 * `ExecStartPre=`/`ExecStart=` lines and the user in `User=`/`Group=`. Anything else in the
 * file is written as it is, so the two cannot drift.
 */
import { InstallError } from './install-error.js';

/** What the shipped unit names, and what renderAgentUnit replaces. */
export const SHIPPED_UNIT = { nodePath: '/usr/bin/node', binPath: '/usr/bin/speedwatch-agent', user: 'speedwatch' } as const;

/** The unit's name, and where install-service writes it. */
export const UNIT_NAME = 'speedwatch-agent.service';
export const UNIT_FILE = `/etc/systemd/system/${UNIT_NAME}`;

export interface UnitSettings {
  /** Absolute path of the node binary the service runs. */
  nodePath: string;
  /** Absolute path of the agent's bin script (the package's `bin/speedwatch-agent.js`). */
  binPath: string;
  /** The user and group the service runs as. */
  user: string;
}

/**
 * One argument of an `Exec…=` line as systemd reads it: `%` (specifiers) and `$` (variables)
 * doubled, and the whole quoted when it holds a space, a quote or a backslash.
 */
export function systemdExecArg(arg: string): string {
  const escaped = arg.replaceAll('%', '%%').replaceAll('$', () => '$$');
  return /[\s"'\\]/.test(escaped) ? `"${escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"` : escaped;
}

/**
 * The unit with `settings` in place of the shipped node, agent and user. Throws InstallError
 * (SW_INSTALL_FAILED) if the template does not name them where expected: one
 * `ExecStartPre=` and one `ExecStart=` line, each starting with the node and holding the agent once,
 * and one `User=` and one `Group=` line.
 */
export function renderAgentUnit(template: string, settings: UnitSettings): string {
  const seen = { ExecStartPre: 0, ExecStart: 0, User: 0, Group: 0 };
  const drifted = (what: string): InstallError =>
    new InstallError('SW_INSTALL_FAILED', `the unit template is not what install-service fills in: ${what} (expected ExecStartPre= and ExecStart= lines running ${SHIPPED_UNIT.nodePath} … ${SHIPPED_UNIT.binPath} …, and User=/Group= ${SHIPPED_UNIT.user})`);
  const lines = template.split('\n').map((line) => {
    const exec = /^(ExecStartPre|ExecStart)=(.*)$/.exec(line);
    if (exec !== null) {
      const key = exec[1] as 'ExecStartPre' | 'ExecStart';
      const argv = (exec[2] ?? '').split(' ');
      if (argv[0] !== SHIPPED_UNIT.nodePath) throw drifted(`${key}= does not start with ${SHIPPED_UNIT.nodePath}`);
      if (argv.filter((arg) => arg === SHIPPED_UNIT.binPath).length !== 1) throw drifted(`${key}= does not name ${SHIPPED_UNIT.binPath} once`);
      seen[key] += 1;
      const filled = argv.map((arg, i) => (i === 0 ? systemdExecArg(settings.nodePath) : arg === SHIPPED_UNIT.binPath ? systemdExecArg(settings.binPath) : arg));
      return `${key}=${filled.join(' ')}`;
    }
    const account = /^(User|Group)=(.*)$/.exec(line);
    if (account !== null) {
      const key = account[1] as 'User' | 'Group';
      if (account[2] !== SHIPPED_UNIT.user) throw drifted(`${key}=${account[2] ?? ''}`);
      seen[key] += 1;
      return `${key}=${settings.user}`;
    }
    return line;
  });
  const wrong = Object.entries(seen).filter(([, count]) => count !== 1);
  if (wrong.length > 0) throw drifted(wrong.map(([key, count]) => `${count} ${key}= lines`).join(', '));
  return lines.join('\n');
}
