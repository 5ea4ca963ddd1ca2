import { errorCodesCarriedBy, SpeedwatchError } from '@speedwatch/shared';
import type { ErrorCodeCarriedBy } from '@speedwatch/shared';

/** Codes a measurement can end with: the registry's codes carried by MeasureError (docs/errors.md). */
export type MeasureErrorCode = ErrorCodeCarriedBy<'MeasureError' | 'NoEndpointError'>;
export const MEASURE_ERROR_CODES: readonly MeasureErrorCode[] = errorCodesCarriedBy('MeasureError', 'NoEndpointError');

export class MeasureError extends SpeedwatchError {
  declare readonly code: MeasureErrorCode;

  constructor(code: MeasureErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'MeasureError';
  }
}

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH|ERR_OSSL_)/;

/**
 * Turns whatever a socket, DNS lookup or undici threw into a MeasureError with a stable code,
 * looking through `cause` chains (undici wraps the errno error of a failed connect).
 * `where` names the URL or step, so the message says what failed.
 */
export function toMeasureError(err: unknown, where: string): MeasureError {
  if (err instanceof MeasureError) return err;
  const codes: string[] = [];
  let message = '';
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    if (message === '') message = e.message;
    if (e.name === 'AbortError') codes.push('ABORT');
  }
  if (message === '') message = String(err);
  const mapped = codes.map(classify).find((c) => c !== undefined) ?? 'SW_NETWORK';
  return new MeasureError(mapped, `${where}: ${message}`, { cause: err });
}

function classify(code: string): MeasureErrorCode | undefined {
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return 'SW_DNS';
    case 'ECONNREFUSED':
      return 'SW_CONNECT_REFUSED';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'SW_CONNECT_TIMEOUT';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
    case 'ETIMEDOUT':
      return 'SW_UNREACHABLE';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'SW_RESET';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'SW_TIMEOUT';
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_STATUS':
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'UND_ERR_INFO':
      return 'SW_PROTOCOL';
    case 'ABORT_ERR':
    case 'UND_ERR_ABORTED':
    case 'ABORT':
      return 'SW_ABORTED';
    default:
      return TLS_CODE.test(code) ? 'SW_TLS' : undefined;
  }
}
