export { startEndpoint } from './endpoint/server.js';
export type { EndpointDeps, RunningEndpoint } from './endpoint/server.js';
export { ENDPOINT_DEFAULTS, resolveEndpointOptions } from './endpoint/options.js';
export type { EndpointOptions, EndpointTlsOptions, ResolvedEndpointOptions } from './endpoint/options.js';
export { EndpointListenError, EndpointOptionsError, EndpointTlsError } from './endpoint/endpoint-error.js';
export type { OptionProblem } from './endpoint/endpoint-error.js';
export type { EndpointStats, RejectionReason } from './endpoint/stats.js';
export { Pacer } from './endpoint/pacer.js';
export type { PacerOptions } from './endpoint/pacer.js';
