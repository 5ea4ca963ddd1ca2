/**
 * The measuring agent's costs, side by side with peers measured in the same run.
 *   - download: CPU seconds per GB of the agent (raw sockets), of undici's dispatch API doing
 *     the same counting (the design it replaced), and of curl, against one endpoint on loopback;
 *   - upload: CPU seconds per GB of the agent and of curl -T;
 *   - the agent's peak RSS.
 * Whole-process CPU (user+sys) and peak RSS come from GNU time. Each figure is the median of
 * RUNS runs, interleaved so that machine noise hits every peer alike. Prints a table, then one
 * JSON line (through run.ts).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from '@speedwatch/shared';
import { BIN, startEndpointProcess } from '../support/processes.js';
import type { BenchRow } from './collector-bench.js';

const TIME = '/usr/bin/time';
const HERE = new URL('.', import.meta.url).pathname;

interface Timed {
  cpuS: number;
  maxRssMb: number;
  stdout: string;
}

function timed(command: string, args: string[]): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const child = spawn(TIME, ['-f', 'TIME %U %S %M', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', () => {
      const m = /TIME ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
      if (m === null) return reject(new Error(`${command} ${args.join(' ')}: no timing\n${stderr}`));
      resolve({ cpuS: Number(m[1]) + Number(m[2]), maxRssMb: Number(m[3]) / 1024, stdout });
    });
  });
}

function requireTool(path: string, pkg: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${path}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${path} is needed for the benchmark: apt-get install -y ${pkg}`);
  }
}

async function uploadFile(bytes: number): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'sw-bench-')), 'upload.bin');
  const out = createWriteStream(file);
  const chunk = randomBytes(1 << 20);
  for (let i = 0; i < bytes / chunk.length; i++) if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  await new Promise<void>((resolve) => out.end(resolve));
  return file;
}

export async function benchAgent(options: { runs: number }): Promise<{ rows: BenchRow[]; summary: Record<string, unknown> }> {
  requireTool(TIME, 'time');
  requireTool('curl', 'curl');
  // Limits raised so that curl's 2 GiB download and 1 GiB upload fit in one request each.
  const endpoint = await startEndpointProcess(['--port', '0', '--max-chunk-mib', '4096', '--max-body', '2GiB', '--log-level', 'warn']);
  try {
    const base = endpoint.url;
    const curlDownloadBytes = 2 * 1024 ** 3;
    const curlUploadBytes = 1024 ** 3;
    const file = await uploadFile(curlUploadBytes);
    const samples: Record<string, number[]> = {};
    const add = (key: string, value: number): void => {
      (samples[key] ??= []).push(value);
    };

    for (let run = 0; run < options.runs; run++) {
      process.stderr.write(`agent CPU, run ${run + 1}/${options.runs}…\n`);
      const curlDown = await timed('curl', ['-s', '-f', '-o', '/dev/null', `${base}garbage.php?ckSize=${curlDownloadBytes / 1024 ** 2}`]);
      add('download.curl', curlDown.cpuS / (curlDownloadBytes / 1e9));

      const agentDown = await timed(process.execPath, [BIN.agent, 'once', '--endpoint', base, '--tests', 'download', '--duration', '4', '--json']);
      const down = JSON.parse(agentDown.stdout) as { download: { totalBytes: number; mbps: number } };
      add('download.agent', agentDown.cpuS / (down.download.totalBytes / 1e9));
      add('download.agent.mbps', down.download.mbps);
      add('rss.agent.download', agentDown.maxRssMb);

      const undici = await timed(process.execPath, [join(HERE, 'undici-download.js'), `${base}garbage.php?ckSize=100`, '4', '4']);
      add('download.undici', undici.cpuS / ((JSON.parse(undici.stdout) as { bytes: number }).bytes / 1e9));

      const curlUp = await timed('curl', ['-s', '-f', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '-H', 'Content-Type: application/octet-stream', '-T', file, `${base}empty.php`]);
      if (curlUp.stdout !== '200') throw new Error(`curl upload answered ${curlUp.stdout}`);
      add('upload.curl', curlUp.cpuS / (curlUploadBytes / 1e9));

      const agentUp = await timed(process.execPath, [BIN.agent, 'once', '--endpoint', base, '--tests', 'upload', '--duration', '4', '--json']);
      const up = JSON.parse(agentUp.stdout) as { upload: { totalBytes: number; mbps: number } };
      add('upload.agent', agentUp.cpuS / (up.upload.totalBytes / 1e9));
      add('upload.agent.mbps', up.upload.mbps);
      add('rss.agent.upload', agentUp.maxRssMb);
    }

    const m = (key: string): number => median(samples[key] ?? [NaN]);
    const summary = {
      runs: options.runs,
      downloadCpuSPerGb: { agent: m('download.agent'), undiciDispatch: m('download.undici'), curl: m('download.curl') },
      downloadRatioToCurl: m('download.agent') / m('download.curl'),
      undiciRatioToCurl: m('download.undici') / m('download.curl'),
      uploadCpuSPerGb: { agent: m('upload.agent'), curl: m('upload.curl') },
      uploadRatioToCurl: m('upload.agent') / m('upload.curl'),
      agentLoopbackMbps: { download: m('download.agent.mbps'), upload: m('upload.agent.mbps') },
      agentPeakRssMb: Math.max(m('rss.agent.download'), m('rss.agent.upload')),
    };
    const f = (n: number, d = 3): string => n.toFixed(d);
    const rows: BenchRow[] = [
      { measure: 'agent download CPU s/GB vs curl', value: f(summary.downloadCpuSPerGb.agent), peer: f(summary.downloadCpuSPerGb.curl), ratio: f(summary.downloadRatioToCurl, 2), goal: '<= 2.00' },
      { measure: 'same, undici dispatch (the design replaced) vs curl', value: f(summary.downloadCpuSPerGb.undiciDispatch), peer: f(summary.downloadCpuSPerGb.curl), ratio: f(summary.undiciRatioToCurl, 2), goal: '(before)' },
      { measure: 'agent upload CPU s/GB vs curl -T', value: f(summary.uploadCpuSPerGb.agent), peer: f(summary.uploadCpuSPerGb.curl), ratio: f(summary.uploadRatioToCurl, 2), goal: '' },
      { measure: 'agent test process peak RSS MB (whole process)', value: f(summary.agentPeakRssMb, 1), peer: '', ratio: '', goal: '< 100' },
      { measure: 'agent loopback Mbps down / up', value: `${f(summary.agentLoopbackMbps.download, 0)} / ${f(summary.agentLoopbackMbps.upload, 0)}`, peer: '', ratio: '', goal: '' },
    ];
    return { rows, summary };
  } finally {
    await endpoint.stop();
  }
}
