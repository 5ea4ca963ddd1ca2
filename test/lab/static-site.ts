/**
 * A static web server for the lab, run as its own process so that it can live in a network
 * namespace (`ip netns exec NS node test/dist/lab/static-site.js …`): it serves the files it is
 * given, each at the path given, unchanged, and nothing else.
 *
 *   node static-site.js --host 127.0.0.1 --port 0 /=page.html /speedtest.js=…/speedtest.js
 *
 * prints `{"event":"listening","url":"http://127.0.0.1:PORT/"}` on stdout once it listens, and
 * runs until killed. GET and HEAD only; the query string is ignored (LibreSpeed loads its
 * worker as `speedtest_worker.js?r=…`); every answer is `no-store`. A file is read when asked
 * for, so it is served as it is on disk.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

function main(): void {
  const { values, positionals } = parseArgs({
    options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' } },
    allowPositionals: true,
  });
  const files = new Map<string, string>();
  for (const arg of positionals) {
    const eq = arg.indexOf('=');
    if (!arg.startsWith('/') || eq === -1) {
      process.stderr.write(`static-site: expected /PATH=FILE, got ${JSON.stringify(arg)}\n`);
      process.exit(1);
    }
    files.set(arg.slice(0, eq), arg.slice(eq + 1));
  }
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const file = files.get(path);
    if ((req.method !== 'GET' && req.method !== 'HEAD') || file === undefined) {
      res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 404 : 405, { 'content-type': 'text/plain' }).end('not here\n');
      return;
    }
    readFile(file).then(
      (body) => {
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': body.length, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`);
      },
    );
  });
  server.once('error', (err) => {
    process.stderr.write(`static-site: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(Number(values.port), values.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : Number(values.port);
    process.stdout.write(`${JSON.stringify({ event: 'listening', url: `http://${values.host}:${port}/` })}\n`);
  });
}

main();
