export { startEndpoint } from './server.js';
export type { EndpointDeps, RunningEndpoint } from './server.js';
export { ENDPOINT_DEFAULTS, resolveEndpointOptions } from './options.js';
export type { EndpointOptions, EndpointTlsOptions, ResolvedEndpointOptions } from './options.js';
export { EndpointListenError, EndpointOptionsError, EndpointTlsError } from './endpoint-error.js';
export type { EndpointStats, RejectionReason } from './stats.js';
export { Pacer } from './pacer.js';
export type { PacerOptions } from './pacer.js';
