/**
 * `npm start`: a demo on loopback. Two paced endpoints stand in for two lines, a "fixed" school
 * line at about 120 Mbit/s and a "mobile" clinic line at about 30 Mbit/s, and the agent tests
 * each once and prints its verdict. (The collector and the scheduled agents join the demo
 * when they exist.) Ctrl-C stops everything.
 */
import { spawn } from 'node:child_process';
import type { Running } from '../support/processes.js';
import { BIN, startEndpointProcess } from '../support/processes.js';

const basePort = Number(process.env['PORT'] ?? 8601);
const lines = [
  { site: 'school (fixed broadband)', technology: 'fixed', mbps: 120, port: basePort },
  { site: 'clinic (mobile broadband)', technology: 'mobile', mbps: 30, port: basePort + 1 },
] as const;

const endpoints: (Running & { url: string })[] = [];
let stopping = false;
const stopAll = async (): Promise<void> => {
  stopping = true;
  await Promise.all(endpoints.map((e) => e.stop()));
};
process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
process.once('SIGTERM', () => void stopAll().then(() => process.exit(143)));

try {
  for (const line of lines) {
    const endpoint = await startEndpointProcess(['--host', '127.0.0.1', '--port', String(line.port), '--max-mbps', String(line.mbps), '--log-level', 'warn']);
    endpoints.push(endpoint);
    process.stdout.write(`endpoint for the ${line.site} line: ${endpoint.url} (paced to ${line.mbps} Mbit/s)\n`);
  }
  for (const [i, line] of lines.entries()) {
    if (stopping) break;
    process.stdout.write(`\n== ${line.site} ==\n`);
    const url = endpoints[i]?.url ?? '';
    await new Promise<void>((resolve) => {
      const agent = spawn(process.execPath, [BIN.agent, 'once', '--endpoint', url, '--technology', line.technology, '--duration', '6'], { stdio: 'inherit' });
      agent.once('exit', () => resolve());
    });
  }
} finally {
  await stopAll();
}
