/**
 * The "before" of the download hot path: the same byte counting done with undici's lower-level
 * dispatch API (no body stream, a byte count in onResponseData). The benchmark runs it beside
 * the agent and curl so the choice of raw sockets stays justified by a number.
 * Usage: node undici-download.js URL STREAMS SECONDS  → prints {"bytes": N}
 */
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';

const [urlText, streamsText, secondsText] = process.argv.slice(2);
const url = new URL(urlText ?? '');
const streams = Number(streamsText ?? '4');
const deadline = Date.now() + Number(secondsText ?? '5') * 1000;
const agent = new Agent({ connections: streams, pipelining: 1 });
let bytes = 0;

function fetchOnce(): Promise<void> {
  return new Promise((resolve, reject) => {
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onResponseStart() {},
      onResponseData(controller, chunk) {
        bytes += chunk.length;
        if (Date.now() > deadline) controller.abort(new Error('time up'));
      },
      onResponseEnd: () => resolve(),
      onResponseError: (_controller, err) => (Date.now() > deadline ? resolve() : reject(err)),
    };
    agent.dispatch({ origin: url.origin, path: `${url.pathname}${url.search}`, method: 'GET' }, handler);
  });
}

async function stream(): Promise<void> {
  while (Date.now() < deadline) await fetchOnce();
}

await Promise.all(Array.from({ length: streams }, stream));
await agent.close();
process.stdout.write(`${JSON.stringify({ bytes })}\n`);
