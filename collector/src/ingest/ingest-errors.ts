// The codes the collector sends agents in `error` and `reject` messages are in the registry
// (@speedwatch/shared ERROR_CODES, docs/errors.md); their types are WireErrorCode and RejectCode.

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
