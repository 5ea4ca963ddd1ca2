/**
 * Choosing the test point as i-Speed does: probe every candidate's latency (concurrently, with a
 * bound) and take the lowest median; or take the one named with `--server`.
 */
import pLimit from 'p-limit';
import type { EndpointCandidate, EndpointChoice } from '@speedwatch/shared';
import { median, round, UsageError } from '@speedwatch/shared';
import type { Endpoint } from './endpoints.js';
import { LatencyProber } from './latency.js';
import type { ProbeOptions } from './latency.js';
import { MeasureError, toMeasureError } from './measure-error.js';

export interface SelectOptions extends ProbeOptions {
  /** Name of the endpoint to use without probing (`--server NAME`). */
  force?: string;
  /** Probes per candidate (after one uncounted warm-up). */
  probes: number;
  /** Candidates probed at the same time. */
  concurrency: number;
}

export interface Selection {
  endpoint: Endpoint;
  choice: EndpointChoice;
}

/** Thrown when no candidate answered; carries what each probe found, for the result. */
export class NoEndpointError extends MeasureError {
  readonly candidates: EndpointCandidate[];

  constructor(candidates: EndpointCandidate[]) {
    super('SW_NO_ENDPOINT', `none of ${candidates.length} endpoints answered: ${candidates.map((c) => `${c.name} (${c.errorCode ?? '?'})`).join(', ')}`);
    this.candidates = candidates;
  }
}

export async function selectEndpoint(endpoints: readonly Endpoint[], options: SelectOptions): Promise<Selection> {
  if (endpoints.length === 0) throw new UsageError('no endpoint to test against');
  if (options.force !== undefined) {
    const forced = endpoints.find((e) => e.name === options.force);
    if (forced === undefined) {
      throw new UsageError(`--server ${JSON.stringify(options.force)} is not in the server list (have: ${endpoints.map((e) => e.name).join(', ')})`);
    }
    return { endpoint: forced, choice: { name: forced.name, url: forced.baseUrl, reason: 'forced' } };
  }
  const only = endpoints[0] as Endpoint;
  if (endpoints.length === 1) return { endpoint: only, choice: { name: only.name, url: only.baseUrl, reason: 'only' } };

  const limit = pLimit(options.concurrency);
  const candidates = await Promise.all(endpoints.map((endpoint) => limit(() => probeCandidate(endpoint, options))));
  let best: { index: number; medianMs: number } | undefined;
  candidates.forEach((candidate, index) => {
    if (candidate.medianMs !== undefined && (best === undefined || candidate.medianMs < best.medianMs)) {
      best = { index, medianMs: candidate.medianMs };
    }
  });
  if (best === undefined) throw new NoEndpointError(candidates);
  const endpoint = endpoints[best.index] as Endpoint;
  return { endpoint, choice: { name: endpoint.name, url: endpoint.baseUrl, reason: 'lowest-latency', candidates } };
}

async function probeCandidate(endpoint: Endpoint, options: SelectOptions): Promise<EndpointCandidate> {
  const prober = new LatencyProber(endpoint.pingUrl, options);
  try {
    await prober.probe(); // connection set-up, not counted
    const rtts: number[] = [];
    for (let i = 0; i < options.probes; i++) rtts.push(await prober.probe());
    return { name: endpoint.name, medianMs: round(median(rtts), 3) };
  } catch (err) {
    return { name: endpoint.name, errorCode: toMeasureError(err, endpoint.pingUrl.href).code };
  } finally {
    await prober.close();
  }
}
