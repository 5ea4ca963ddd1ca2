/**
 * The one thing speedwatch adds to the LibreSpeed backend protocol: the answer to an upload
 * (`POST empty`) carries the number of body bytes the endpoint actually read. LibreSpeed
 * clients ignore it; the agent counts upload bytes only as the endpoint confirms them.
 */
export const RECEIVED_BYTES_HEADER = 'X-Speedwatch-Received-Bytes';
