/** Codes the collector sends agents in `error` and `reject` messages (docs/protocol.md). */
export const INGEST_ERROR_CODES = {
  SW_PROTOCOL_JSON: 'the frame is not valid UTF-8 JSON',
  SW_PROTOCOL_MESSAGE: 'the message has an unknown type or the wrong shape',
  SW_PROTOCOL_BINARY: 'binary frames are not part of the protocol',
  SW_HELLO_REQUIRED: 'the first message must be hello',
  SW_BATCH_TOO_LARGE: 'a results message holds more than maxBatch results',
  SW_RATE_LIMITED: 'more messages than maxMessagesPerMinute; the message was dropped',
  SW_DUPLICATE_ID: 'the same result id twice in one batch; the second is rejected',
  SW_TIMESTAMP: "a result's startedAt is outside the accepted range (clock far off?)",
  SW_STORE_UNAVAILABLE: 'the collector could not commit the batch; nothing was acked, send it again later',
} as const;

export type IngestErrorCode = keyof typeof INGEST_ERROR_CODES;

/** Labels of the rejected-input counter: one per way input is refused. */
export type RejectReason =
  | 'json'
  | 'message'
  | 'binary'
  | 'hello_required'
  | 'batch_too_large'
  | 'rate_limited'
  | 'validation'
  | 'duplicate_id'
  | 'timestamp'
  | 'frame_too_large'
  | 'unauthorized'
  | 'auth_rate_limited'
  | 'store_unavailable';
