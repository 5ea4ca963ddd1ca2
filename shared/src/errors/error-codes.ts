/**
 * Every error code speedwatch raises on purpose, defined here once: what it means, what to do
 * about it, which component raises it and what carries it. The tables of docs/errors.md are
 * generated from this registry (`npm run docs:errors`), and every class or message that carries
 * a code takes an `ErrorCode`, so a code that is not here does not compile. Codes are stable
 * across releases: add codes, never rename or reuse one.
 */
import { deepFreeze } from '../validate/deep-freeze.js';

/** The parts of speedwatch that raise errors, in the order docs/errors.md lists them. */
export const ERROR_COMPONENTS = [
  'measurement',
  'input',
  'endpoint',
  'collector-ingest',
  'collector-api',
  'alert-webhooks',
  'alert-channels',
  'agent-daemon',
  'enrollment',
  'install',
  'upgrade',
] as const;
export type ErrorComponent = (typeof ERROR_COMPONENTS)[number];

/**
 * What carries a code out of the code that raised it: the error class that is thrown (its
 * `name`), a result's `error`/`errors[]`, the `error` or `reject` message the collector sends
 * an agent, the HTTP answer of the collector's API, or a line of the agent's dead-letter file.
 */
export type ErrorCarrier = `${string}Error` | 'result' | 'error message' | 'reject message' | `HTTP ${number}` | 'dead-letter line';

/** One entry of the registry. `meaning` and `action` are Markdown, shown as they are in docs/errors.md. */
export interface ErrorCodeInfo {
  readonly component: ErrorComponent;
  /** What happened, for an operator. */
  readonly meaning: string;
  /** What to do about it. */
  readonly action: string;
  /** Where the code is found: the most specific error class first, then wire messages and HTTP answers. */
  readonly carriers: readonly ErrorCarrier[];
}

export const ERROR_CODES = deepFreeze({
  // Measurement (agent): a result's `error`/`errors[]` and the MeasureError thrown inside the agent.
  SW_DNS: {
    component: 'measurement',
    meaning: "The endpoint's host name did not resolve.",
    action: "Check the URL and the box's DNS (`/etc/resolv.conf`).",
    carriers: ['MeasureError', 'result'],
  },
  SW_CONNECT_REFUSED: {
    component: 'measurement',
    meaning: 'The endpoint host refused the TCP connection: nothing listens on that port.',
    action: 'Check that the endpoint runs and the port in the URL.',
    carriers: ['MeasureError', 'result'],
  },
  SW_CONNECT_TIMEOUT: {
    component: 'measurement',
    meaning: 'No TCP (or TLS) connection within the connect timeout (5 s).',
    action: 'A firewall dropping packets, or the host is down.',
    carriers: ['MeasureError', 'result'],
  },
  SW_UNREACHABLE: {
    component: 'measurement',
    meaning: 'No route to the endpoint host (`EHOSTUNREACH`, `ENETUNREACH`, `ETIMEDOUT`).',
    action: "Check the box's network link and routes.",
    carriers: ['MeasureError', 'result'],
  },
  SW_TLS: {
    component: 'measurement',
    meaning: 'The TLS handshake failed: untrusted or expired certificate, wrong name, protocol mismatch.',
    action: "Give the endpoint's CA with `--ca FILE`, or fix its certificate.",
    carriers: ['MeasureError', 'result'],
  },
  SW_HTTP_STATUS: {
    component: 'measurement',
    meaning: 'The endpoint answered with an HTTP status other than 200 (e.g. 404: wrong path).',
    action: "Check the URL's path; for a server list, its `dlURL`/`ulURL`/`pingURL`.",
    carriers: ['MeasureError', 'result'],
  },
  SW_PROTOCOL: {
    component: 'measurement',
    meaning: 'The endpoint sent something that is not valid HTTP/1.1 (bad status line, chunk size, extra data).',
    action: 'The URL points at something that is not a speed-test endpoint, or a proxy mangles it.',
    carriers: ['MeasureError', 'result'],
  },
  SW_RESET: {
    component: 'measurement',
    meaning: 'The connection was reset or closed in the middle of a transfer.',
    action: 'A flaky link, or the endpoint restarted or hit one of its limits (see its log).',
    carriers: ['MeasureError', 'result'],
  },
  SW_STALLED: {
    component: 'measurement',
    meaning: 'A transfer moved no byte (download) or had no upload confirmed for the stall timeout (5 s).',
    action: 'A link that stopped carrying data; the result keeps what was measured before.',
    carriers: ['MeasureError', 'result'],
  },
  SW_TIMEOUT: {
    component: 'measurement',
    meaning: 'A request (latency probe) got no answer within its timeout (2 s).',
    action: 'A lossy or overloaded link; the loss ratio counts these.',
    carriers: ['MeasureError', 'result'],
  },
  SW_NETWORK: {
    component: 'measurement',
    meaning: "Another network error; the message has the system's words.",
    action: 'Read the message.',
    carriers: ['MeasureError', 'result'],
  },
  SW_NO_ENDPOINT: {
    component: 'measurement',
    meaning: 'Several endpoints were given and none answered the selection probe; `endpoint.candidates` says why for each.',
    action: "Check the server list and the box's network.",
    carriers: ['NoEndpointError', 'result'],
  },
  SW_ABORTED: {
    component: 'measurement',
    meaning: 'The test was stopped: a signal (Ctrl-C, SIGTERM) or its overall time bound.',
    action: 'Nothing, if you stopped it; otherwise the link is too slow for the bound.',
    carriers: ['MeasureError', 'result'],
  },
  SW_UDP_NO_REPLY: {
    component: 'measurement',
    meaning: "The UDP probe (`--udp`) got no answer from the endpoint's reflector: not one packet of the stream came back, or the host answered that nothing listens on that UDP port.",
    action: 'Check that the endpoint is a speedwatch-endpoint with its UDP reflector on (`--udp-port`, default the HTTP port\'s number), that the agent uses that port (`--udp-port`), and that no firewall drops UDP; LibreSpeed backends have no reflector.',
    carriers: ['MeasureError', 'result'],
  },
  SW_BUDGET_CAPPED: {
    component: 'measurement',
    meaning: "A throughput phase ended early or did not start: the test reached its data cap (`--max-bytes`, which the daemon sets from the site's monthly data budget) before that phase measured a full second.",
    action: "Nothing, on a metered link: the budget is doing its job (the result's `budget` says what it allowed). For longer tests raise the budget (`budget.monthly`) or test less often; see docs/agent.md, \"Metered links\".",
    carriers: ['MeasureError', 'result'],
  },
  // Input and configuration, in every package.
  SW_USAGE: {
    component: 'input',
    meaning: 'A command-line flag or combination of flags is not usable; the message names the flag.',
    action: 'Fix the flag; `--help` lists them.',
    carriers: ['UsageError'],
  },
  SW_VALIDATION: {
    component: 'input',
    meaning: "A value from the network or a file does not have the expected shape; the error's `path` names the field (`download.samplesMbps[3]`) and the message says what was expected.",
    action: 'Fix the sender or the file.',
    carriers: ['ValidationError', 'reject message', 'dead-letter line'],
  },
  // The endpoint (speedwatch-endpoint).
  SW_ENDPOINT_OPTIONS: {
    component: 'endpoint',
    meaning: "Endpoint options are out of range, of the wrong type or unknown; every problem is listed at once, each with the option's key path (`problems[].path`). The CLI names the flags instead.",
    action: 'Fix each flag or option.',
    carriers: ['EndpointOptionsError'],
  },
  SW_ENDPOINT_LISTEN: {
    component: 'endpoint',
    meaning: 'The endpoint could not listen on its host and port (in use, no permission).',
    action: 'Pick another `--port` or stop what holds it.',
    carriers: ['EndpointListenError'],
  },
  SW_ENDPOINT_TLS: {
    component: 'endpoint',
    meaning: 'The TLS certificate or key could not be read or used.',
    action: 'Check `--tls-cert` and `--tls-key`.',
    carriers: ['EndpointTlsError'],
  },
  // Collector ingest: sent to agents in `error` and `reject` messages (docs/protocol.md).
  SW_PROTOCOL_JSON: {
    component: 'collector-ingest',
    meaning: 'A WebSocket frame was not valid JSON.',
    action: 'Fix the agent; nothing in the frame was stored.',
    carriers: ['error message'],
  },
  SW_PROTOCOL_BINARY: {
    component: 'collector-ingest',
    meaning: 'A binary WebSocket frame; the protocol is JSON text.',
    action: 'Send text frames.',
    carriers: ['error message'],
  },
  SW_PROTOCOL_MESSAGE: {
    component: 'collector-ingest',
    meaning: 'A message of unknown `type` or the wrong shape; the message names the field. Collectors older than the `health` message answer it so.',
    action: 'Fix the agent, or upgrade it if the protocol version differs. For `health`: upgrade the collector (agents stop sending it on that connection by themselves).',
    carriers: ['error message'],
  },
  SW_HELLO_REQUIRED: {
    component: 'collector-ingest',
    meaning: '`results` or `health` arrived before `hello`.',
    action: 'Send `hello` first on every connection.',
    carriers: ['error message'],
  },
  SW_BATCH_TOO_LARGE: {
    component: 'collector-ingest',
    meaning: 'A `results` message held more than `maxBatch` results.',
    action: 'Send smaller batches (the limit is in `welcome`).',
    carriers: ['error message'],
  },
  SW_RATE_LIMITED: {
    component: 'collector-ingest',
    meaning: 'More messages a minute than `maxMessagesPerMinute`; the message was dropped, nothing in it stored.',
    action: 'Send fewer, larger batches; resend what was not acked.',
    carriers: ['error message'],
  },
  SW_DUPLICATE_ID: {
    component: 'collector-ingest',
    meaning: 'A result id appeared twice in one batch; the second copy is rejected.',
    action: 'Make ids unique per result (the agent uses UUIDs).',
    carriers: ['reject message', 'dead-letter line'],
  },
  SW_TIMESTAMP: {
    component: 'collector-ingest',
    meaning: "A result's `startedAt` is outside the accepted range: more than `maxFutureSkew` ahead of the collector's clock, or older than the retention.",
    action: "Fix the box's clock (NTP); `speedwatch_agent_clock_skew_seconds` shows it.",
    carriers: ['reject message', 'dead-letter line'],
  },
  SW_STORE_UNAVAILABLE: {
    component: 'collector-ingest',
    meaning: 'The collector could not commit a batch (disk full, I/O error, the database locked by another process past the busy timeout); nothing was acked and the connection stays open. The API answers it with HTTP 503 when a read fails.',
    action: "The agent resends after a pause; an operator frees disk, ends what holds the lock, or fixes the database (see the collector's log).",
    carriers: ['error message', 'HTTP 503'],
  },
  // Collector: its API, configuration and database.
  SW_COLLECTOR_LISTEN: {
    component: 'collector-api',
    meaning: 'The collector could not listen on its host and port (in use, not an address of this host, no permission); it exits with status 2 at once.',
    action: 'Choose another `--port`/`--host`, or stop what holds the port.',
    carriers: ['CollectorListenError'],
  },
  SW_CONFIG: {
    component: 'collector-api',
    meaning: "The collector's configuration (file, environment or flags, the `verdicts` and `alerts` sections and the files it names included) is not valid; every problem is listed at once, each with its key path (`problems[].path`).",
    action: 'Fix each listed key; `speedwatch-collector check-config FILE` shows them all.',
    carriers: ['ConfigError'],
  },
  SW_SITES_FILE: {
    component: 'collector-api',
    meaning: 'The sites CSV of `agents import` is not usable; every problem is listed at once with its line and column, and nothing was imported.',
    action: 'Fix each listed line; the header names the columns (`id,name,site_kind,technology`, optionally `isp,area,lat,lon`).',
    carriers: ['SitesFileError'],
  },
  SW_ADMIN_DISABLED: {
    component: 'collector-api',
    meaning: 'An action (`POST /api/v1/tests`, `/pause`, `/resume`, `/enrollment-codes`) on a collector with no `adminToken` (HTTP 403): actions are off.',
    action: 'Set `adminToken` or `adminTokenFile` (or SPEEDWATCH_ADMIN_TOKEN), different from the read token, and send it as `Authorization: Bearer`.',
    carriers: ['HTTP 403'],
  },
  SW_ADMIN_REQUIRED: {
    component: 'collector-api',
    meaning: 'An action (`POST /api/v1/tests`, `/pause`, `/resume`, `/enrollment-codes`) from a console session opened with the read token (HTTP 403): actions need an admin session.',
    action: 'Log out and log in to the console with the admin token, or send `Authorization: Bearer <admin token>` from a script.',
    carriers: ['HTTP 403'],
  },
  SW_CSRF: {
    component: 'collector-api',
    meaning: "An action sent with the console's session cookie but without the session's CSRF token in `X-CSRF-Token`, with a wrong one, or from another site (`Sec-Fetch-Site`/`Origin`) (HTTP 403): nothing was done.",
    action: "Send the `csrfToken` of `GET /api/v1/session` in `X-CSRF-Token`, from the console's own page; a script sends `Authorization: Bearer <admin token>` instead of the cookie.",
    carriers: ['HTTP 403'],
  },
  SW_AREAS_FILE: {
    component: 'collector-api',
    meaning: 'The units CSV of `areas import` is not usable; every problem is listed at once with its line and column, and nothing was imported.',
    action: 'Fix each listed line; the header names the columns (`code,name`, optionally `parent_code,valid_from,valid_to`, dates as YYYY-MM-DD).',
    carriers: ['AreaUnitsFileError'],
  },
  SW_BAD_PARAMETER: {
    component: 'collector-api',
    meaning: 'An API query parameter is missing, unknown or malformed (HTTP 400); `parameter` names it.',
    action: 'Fix the request.',
    carriers: ['BadParameterError', 'HTTP 400'],
  },
  SW_UNAUTHORIZED: {
    component: 'collector-api',
    meaning: 'The API or /metrics needs `Authorization: Bearer <read token>` (or the admin token), or an action needs the admin token or an admin console session (HTTP 401); a release download (`/v1/releases/`) needs an agent\'s token.',
    action: 'Send the read token configured as `readToken`; for actions, the `adminToken`; for a release, the token of an agent that is not revoked.',
    carriers: ['HTTP 401'],
  },
  SW_NOT_FOUND: {
    component: 'collector-api',
    meaning: 'No such API route, or no release of that name announced by the fleet config (HTTP 404).',
    action: 'See the routes in the README; a release is served only while some `agentVersion` names it.',
    carriers: ['HTTP 404'],
  },
  SW_METHOD: {
    component: 'collector-api',
    meaning: 'A method other than GET or HEAD on a read route (HTTP 405), or other than POST on `/v1/enroll` and the actions.',
    action: 'Use GET.',
    carriers: ['HTTP 405'],
  },
  SW_AUTH_RATE_LIMITED: {
    component: 'collector-api',
    meaning: 'Too many failed token attempts from this address (HTTP 429, with `Retry-After`) at `/v1/releases/`; the token was not looked at. Failed tokens and enrollment codes count together.',
    action: 'Wait the seconds given; check the token the request sends.',
    carriers: ['HTTP 429'],
  },
  SW_INTERNAL: {
    component: 'collector-api',
    meaning: 'The collector failed while answering (HTTP 500); details are in its log.',
    action: 'Report it with the log line.',
    carriers: ['HTTP 500'],
  },
  SW_AGENT_EXISTS: {
    component: 'collector-api',
    meaning: '`agents add`, or `POST /api/v1/enrollment-codes` for a new site (HTTP 409), with an id that already exists.',
    action: 'Choose another id; for a new code for the existing site, `agents enroll ID` or the API with `{"id"}` alone.',
    carriers: ['StoreError', 'HTTP 409'],
  },
  SW_STORE_OPEN: {
    component: 'collector-api',
    meaning: 'The database could not be opened: a SQLite file (path, permissions, not a database), or PostgreSQL (`store.url` unreachable, the role or its password refused, the database missing).',
    action: 'Check `--db` and its directory; for PostgreSQL, `store.url`, the password (`store.passwordFile` or `SPEEDWATCH_PG_PASSWORD`) and the server\'s `pg_hba.conf`.',
    carriers: ['StoreError'],
  },
  SW_STORE_VERSION: {
    component: 'collector-api',
    meaning: 'The database was written by a newer speedwatch (its schema version, SQLite\'s `user_version` or PostgreSQL\'s `schema_migrations`, is higher than this one knows).',
    action: 'Upgrade the collector, or restore a backup made by this version.',
    carriers: ['StoreError'],
  },
  SW_STORE_WRITE: {
    component: 'collector-api',
    meaning: 'A write to the database failed (disk full, read-only, I/O error; PostgreSQL down or the connection lost).',
    action: 'Free disk space or fix permissions, or bring PostgreSQL back; nothing was acked, and agents send it again.',
    carriers: ['StoreError'],
  },
  SW_STORE_READ: {
    component: 'collector-api',
    meaning: 'A read from the database failed (the file, or PostgreSQL down or the connection lost).',
    action: 'Check the disk and the file, or the PostgreSQL server; see the log.',
    carriers: ['StoreError'],
  },
  SW_STORE_CURSOR: {
    component: 'collector-api',
    meaning: 'A result-page cursor is malformed (the API answers 400 for `cursor`).',
    action: 'Use the `nextCursor` the API returned, unchanged.',
    carriers: ['StoreError'],
  },
  SW_STORE_ARGUMENT: {
    component: 'collector-api',
    meaning: 'A store call got an argument out of range (a programming error).',
    action: 'Report it.',
    carriers: ['StoreError'],
  },
  SW_STORE_BACKUP: {
    component: 'collector-api',
    meaning: 'The online backup failed (target path not writable, disk full).',
    action: 'Check `--out` and free space.',
    carriers: ['StoreError'],
  },
  SW_LEASE_LOST: {
    component: 'collector-api',
    meaning:
      "With several collectors on one PostgreSQL database: work done once for the fleet (verdicts published, the alerts' state and outbox written) by a collector that no longer holds the lease, because another took it (this one stalled, or lost the database, for longer than `leaseTtl`). Nothing was written; the holder does that work now.",
    action:
      "Nothing, if it is rare: the lease changed hands. If it recurs, find what stalls this collector or its connection to the database (its log, `speedwatch_collector_nodejs_eventloop_lag_p99_seconds`), or raise `leaseTtl`.",
    carriers: ['StoreError'],
  },
  SW_REPORT_BUSY: {
    component: 'collector-api',
    meaning: 'Too many reports or range compliance queries are waiting (one runs at a time, four wait); the API answers 429 with `Retry-After`.',
    action: 'Retry in a minute; for many reports, use `speedwatch-collector report` on the database.',
    carriers: ['ReportBusyError', 'HTTP 429'],
  },
  SW_REPORT_FAILED: {
    component: 'collector-api',
    meaning: 'A report could not be built: it ran past its time limit (120 s) or its thread failed reading the database (HTTP 500).',
    action: 'Ask for a shorter range or a smaller area; see the collector log for a database error.',
    carriers: ['ReportFailedError', 'HTTP 500'],
  },
  // Collector: alert webhooks (logged, and in /api/v1/alerts as `webhooks[].lastError`).
  SW_WEBHOOK_STATUS: {
    component: 'alert-webhooks',
    meaning: 'A webhook answered a notification with a status other than 2xx (a 3xx: redirects are not followed). 5xx, 408 and 429 are retried within the round; the others wait for the next round. The notification stays queued.',
    action: "Check the receiver's log; for a 3xx, configure the final URL; for a 4xx, check what the receiver expects (Alertmanager's webhook format, version 4).",
    carriers: ['WebhookError'],
  },
  SW_WEBHOOK_TIMEOUT: {
    component: 'alert-webhooks',
    meaning: 'A webhook gave no complete answer within `alerts.delivery.timeout`; retried, and queued if every attempt fails.',
    action: "Check the receiver's health, or raise the timeout.",
    carriers: ['WebhookError'],
  },
  SW_WEBHOOK_NETWORK: {
    component: 'alert-webhooks',
    meaning: 'A notification could not be sent: DNS, connection refused or reset, TLS. Retried, and queued if every attempt fails (also across restarts).',
    action: 'Check that the receiver runs and that the collector can reach it.',
    carriers: ['WebhookError'],
  },
  // Collector: alert channels read by people (e-mail, Telegram, Zalo, ntfy); logged, and in
  // /api/v1/alerts/deliveries as `deliveries[].lastError`.
  SW_CHANNEL_AUTH: {
    component: 'alert-channels',
    meaning: 'The channel refused the credentials: SMTP authentication failed, a Telegram bot token was refused (HTTP 401, or 404 for a token of the wrong form), a Zalo access token is invalid or expired (`error` -216), an ntfy token was refused (HTTP 401 or 403). Not retried within the round; the notification stays queued and is tried again at later rounds.',
    action: "Put a valid secret in the file or environment variable the channel's config names (`smtp.password`, `token`, `accessToken`) and restart the collector. A Zalo OA access token expires: refresh it (Zalo's OAuth `refresh_token`) and write the new one there.",
    carriers: ['ChannelError'],
  },
  SW_CHANNEL_RATE_LIMITED: {
    component: 'alert-channels',
    meaning: "The channel asked the collector to slow down: Telegram's HTTP 429 (with `parameters.retry_after`, which the next attempt waits for), ntfy's HTTP 429, Zalo's `error` -32. Retried after the longer of the backoff and the wait asked for.",
    action: 'Nothing, if it is rare; otherwise route fewer alerts to the channel (a digest route sends one message a day).',
    carriers: ['ChannelError'],
  },
  SW_CHANNEL_REFUSED: {
    component: 'alert-channels',
    meaning: "The channel refused the message: an SMTP reply 4xx (retried) or 5xx (a recipient or sender refused), Telegram's `ok: false` (400 chat not found, 403 bot blocked or not in the chat), Zalo's `error` other than 0 (the user does not follow the OA, a parameter), ntfy's or a gateway's HTTP status. 5xx answers and SMTP 4xx replies are retried within the round; the others wait for a later round. The notification stays queued.",
    action: "Read the description the channel gave (in the error); check the chat id, the Zalo user id (the user must follow the OA and have written to it within Zalo's window for consultation messages), the ntfy topic, or the e-mail addresses.",
    carriers: ['ChannelError'],
  },
  SW_CHANNEL_TIMEOUT: {
    component: 'alert-channels',
    meaning: 'The channel gave no complete answer within `alerts.delivery.timeout` (for SMTP: no connection, greeting or reply in that time); retried, and queued if every attempt fails.',
    action: "Check the service's health and the network path to it, or raise the timeout.",
    carriers: ['ChannelError'],
  },
  SW_CHANNEL_NETWORK: {
    component: 'alert-channels',
    meaning: 'The message could not be sent: DNS, connection refused or reset, TLS (an untrusted certificate, a server without STARTTLS when `security: starttls`). Retried, and queued if every attempt fails (also across restarts).',
    action: "Check that the collector can reach the channel's host and port; for TLS, give the server's CA in `smtp.caFile` or fix its certificate.",
    carriers: ['ChannelError'],
  },
  // The agent daemon: config, scheduler, outbox, connection to the collector.
  SW_AGENT_CONFIG: {
    component: 'agent-daemon',
    meaning: "The agent's config file is not valid (the files it names and the token variables included); every problem is listed at once, each with its key path (`problems[].path`).",
    action: 'Fix each key; `speedwatch-agent check-config FILE` shows them all.',
    carriers: ['AgentConfigError'],
  },
  SW_AGENT_UNAUTHORIZED: {
    component: 'agent-daemon',
    meaning: 'The collector refused the token (HTTP 401) or closed the connection because it was revoked or rotated (4001). The daemon stops with exit status 4.',
    action: 'Get a new token (`speedwatch-collector agents rotate ID`) and put it in the token file.',
    carriers: ['CollectorAuthError'],
  },
  SW_SCHEDULE_OPTIONS: {
    component: 'agent-daemon',
    meaning: "The scheduler's options (`intervalMs`, `runBoundMs`, `abortGraceMs`, the clock and callbacks) are out of range or of the wrong type; every problem is listed at once, each with its key (`problems[].path`). A daemon built from a valid config never raises it.",
    action: 'Fix each option (a programming error when it comes from code).',
    carriers: ['ScheduleOptionsError'],
  },
  SW_MEASURE_CRASHED: {
    component: 'agent-daemon',
    meaning: 'The test process could not start, crashed, or printed no valid result; recorded as a `failed` result.',
    action: "See the agent's log for the process's last words.",
    carriers: ['result'],
  },
  SW_OUTBOX_OPTIONS: {
    component: 'agent-daemon',
    meaning: 'Outbox options (`dir`, `maxBytes`, `compactMinBytes`, …) or the argument of `pending(limit)` are out of range, of the wrong type or unknown; every problem is listed at once, each with its key (`problems[].path`).',
    action: 'Fix each value.',
    carriers: ['OutboxOptionsError'],
  },
  SW_OUTBOX_OPEN: {
    component: 'agent-daemon',
    meaning: 'The outbox directory or `outbox.log` could not be created, read or truncated (permissions, a file where the directory should be, read-only disk).',
    action: 'Check the data directory and its permissions.',
    carriers: ['OutboxError'],
  },
  SW_OUTBOX_VERSION: {
    component: 'agent-daemon',
    meaning: "`outbox.log` was written by a newer agent's format.",
    action: 'Upgrade the agent, or move the file away to start an empty outbox.',
    carriers: ['OutboxError'],
  },
  SW_OUTBOX_WRITE: {
    component: 'agent-daemon',
    meaning: 'A write, fsync or compaction of the outbox failed (disk full, I/O error); that operation did not happen.',
    action: 'Free disk space; the agent retries later.',
    carriers: ['OutboxError'],
  },
  SW_OUTBOX_CLOSED: {
    component: 'agent-daemon',
    meaning: 'The outbox is closed, or closed itself after a failed fsync (what is on disk is unknown); the daemon exits so that systemd restarts it.',
    action: 'Check the disk; the restart reopens the outbox.',
    carriers: ['OutboxError'],
  },
  SW_OUTBOX_TOO_LARGE: {
    component: 'agent-daemon',
    meaning: 'One result is bigger than `outbox.maxBytes` (or 16 MiB); it was not stored and nothing was dropped for it.',
    action: 'Raise `outbox.maxBytes`.',
    carriers: ['OutboxError'],
  },
  SW_OUTBOX_UNREADABLE: {
    component: 'agent-daemon',
    meaning: 'Code on a dead-letter line (never thrown): a stored record passed its CRC but is not a valid result for this version.',
    action: 'Inspect `dead-letter.jsonl`; usually after an agent downgrade.',
    carriers: ['dead-letter line'],
  },
  // Enrollment: `speedwatch-agent enroll` exchanging a one-time code at the collector's /v1/enroll.
  SW_ENROLL_CODE_MISTYPED: {
    component: 'enrollment',
    meaning: 'The typed code is not an enrollment code: wrong length, a character outside 0-9/A-Z (I, L, O, U excepted), or a check character that does not match. Caught on the box before anything is sent (and by the collector, HTTP 400).',
    action: 'Type the code again, as `agents add --enroll` or `agents import` printed it; dashes, spaces and case do not matter.',
    carriers: ['EnrollmentCodeError', 'EnrollError', 'HTTP 400'],
  },
  SW_ENROLL_CODE_UNKNOWN: {
    component: 'enrollment',
    meaning: 'The collector knows no such code (HTTP 403), or its agent was revoked. Failed attempts count towards the per-address limit, like token guessing.',
    action: 'Check the code and that `--collector` names the collector that issued it; `speedwatch-collector agents enroll ID` issues a new one.',
    carriers: ['EnrollError', 'HTTP 403'],
  },
  SW_ENROLL_CODE_USED: {
    component: 'enrollment',
    meaning: 'The code was already exchanged for a token (HTTP 409): codes work once.',
    action: 'If the box lost its token, issue a new code with `speedwatch-collector agents enroll ID`; the old token stops working when the new code is used.',
    carriers: ['EnrollError', 'HTTP 409'],
  },
  SW_ENROLL_CODE_EXPIRED: {
    component: 'enrollment',
    meaning: 'The code is past its expiry (HTTP 410; `--expires`, default 7 days).',
    action: 'Issue a new code with `speedwatch-collector agents enroll ID`.',
    carriers: ['EnrollError', 'HTTP 410'],
  },
  SW_ENROLL_RATE_LIMITED: {
    component: 'enrollment',
    meaning: 'Too many failed enrollments from this address (HTTP 429, with `Retry-After`); the code was not looked at.',
    action: 'Wait the seconds given, then check the code before trying again.',
    carriers: ['EnrollError', 'HTTP 429'],
  },
  SW_ENROLL_FAILED: {
    component: 'enrollment',
    meaning: 'The enrollment did not complete: the collector could not be reached, answered something that is not an enrollment answer, or the token and config could not be written.',
    action: 'The message names the URL or the file; check `--collector` (and `--ca` for wss), the network, and that the data dir is writable. Nothing was half-written: run `enroll` again.',
    carriers: ['EnrollError'],
  },
  // Install: `speedwatch-agent install-service` setting up a box (user, directories, unit, enrollment, start).
  SW_INSTALL_NODE_VERSION: {
    component: 'install',
    meaning: 'The Node.js running `install-service` is older than the agent needs (`engines.node` in its package.json, 20.18.1). Nothing was written.',
    action: 'Install Node.js 20.18.1 or newer (NodeSource `setup_20.x`, or the nodejs.org tarball unpacked into `/usr/local`), `npm install -g` the agent again with it, and run `install-service` again.',
    carriers: ['InstallError'],
  },
  SW_INSTALL_NOT_ROOT: {
    component: 'install',
    meaning: '`install-service` ran as a user other than root without `--root`: it creates a user, writes to `/etc` and `/var/lib` and starts a service. Nothing was written.',
    action: 'Run it as root (`sudo speedwatch-agent install-service …`).',
    carriers: ['InstallError'],
  },
  SW_INSTALL_PATH_HIDDEN: {
    component: 'install',
    meaning: 'Node or the agent is installed under `/home`, `/root` or `/run/user` (nvm, a per-user npm prefix) or under `/tmp`, which the unit\'s `ProtectHome=yes` and `PrivateTmp=yes` hide from the service. Nothing was written.',
    action: 'Install Node.js for the whole system (NodeSource, or `/usr/local`), then `npm install -g` the agent with it and run `install-service` again.',
    carriers: ['InstallError'],
  },
  SW_INSTALL_FAILED: {
    component: 'install',
    meaning: 'A step of `install-service` failed: creating the user, a directory or the unit file, setting ownership, or `systemctl`. The message names the step, the command and what it printed.',
    action: 'Fix what the message names and run `install-service` again; once the box is enrolled, give `--force` with a new code (`speedwatch-collector agents enroll ID`), or finish the remaining steps by hand (docs/deploy.md).',
    carriers: ['InstallError'],
  },
  // Upgrades: the collector serving release tarballs, the agent installing them (docs/fleet.md, "Upgrades").
  SW_RELEASE_BUSY: {
    component: 'upgrade',
    meaning: 'The collector is already sending as many release tarballs as it allows at once (16); HTTP 503 with `Retry-After`.',
    action: 'Nothing: the agent tries again after the seconds given, with jitter. Stage large rollouts with `fleet.overrides`.',
    carriers: ['HTTP 503'],
  },
  SW_UPGRADE_DOWNLOAD: {
    component: 'upgrade',
    meaning: 'The agent could not download the announced release: the collector unreachable, an HTTP status other than 200, a cut transfer, or no end within 5 minutes. Nothing was installed.',
    action: 'The agent tries again after 15 minutes (or the `Retry-After` given) and at its next connection; check the collector\'s `releases.dir` and its log.',
    carriers: ['UpgradeError'],
  },
  SW_UPGRADE_HASH: {
    component: 'upgrade',
    meaning: 'The downloaded release is not what the collector announced over the WebSocket: its SHA-256 or its size differs. Nothing was installed, and this version with this hash is not tried again.',
    action: 'The tarball in the collector\'s `releases.dir` changed after the collector hashed it (or something between them altered it): put the right file back and reload the collector (`systemctl reload speedwatch-collector`), which hashes it again and announces the new hash.',
    carriers: ['UpgradeError'],
  },
  SW_UPGRADE_PACKAGE: {
    component: 'upgrade',
    meaning: 'The release is not an installable agent package: not gzip or tar, an entry outside `package/` or a link, over 64 MiB unpacked, or a `package.json` that is not `@speedwatch/agent` at the announced version. Nothing was installed, and it is not tried again.',
    action: 'Put a tarball made by `npm run release` in `releases.dir`, named after the version in its `package.json`.',
    carriers: ['UpgradeError'],
  },
  SW_UPGRADE_INSTALL: {
    component: 'upgrade',
    meaning: 'The release could not be written into the data directory (`versions/`, `current`, `upgrade.json`): disk full, permissions. The version in use stays.',
    action: 'Free disk space or fix the data directory\'s owner (the service\'s user); the agent tries again later.',
    carriers: ['UpgradeError'],
  },
  SW_UPGRADE_ROLLED_BACK: {
    component: 'upgrade',
    meaning: 'A newly installed version could not be loaded, stopped, or was not welcomed by the collector within 2 minutes of its start; the version before it runs again, and the new one is not tried again until the collector announces another version or hash.',
    action: 'See the log lines of the failed version (`journalctl -u speedwatch-agent`) and `failed` in `upgrade.json` in the data directory; fix the release and announce a new one.',
    carriers: ['UpgradeError'],
  },
  SW_UPGRADE_NOT_ANNOUNCED: {
    component: 'upgrade',
    meaning: '`speedwatch-agent upgrade` found no release announced by the collector in the data directory (the daemon stores the latest announcement it receives).',
    action: 'Set `agentVersion` in the collector\'s `fleet` config and reload it, let the daemon connect, or install a local tarball with `--file PATH --sha256 HEX`.',
    carriers: ['UpgradeError'],
  },
} as const satisfies Record<`SW_${string}`, ErrorCodeInfo>);

type Registry = typeof ERROR_CODES;

/** A stable error code: one of the registry's keys. */
export type ErrorCode = keyof Registry;

/**
 * The codes some carrier carries: `ErrorCodeCarriedBy<'StoreError'>` is what a StoreError may
 * hold; with the template `HTTP ${number}`, the codes of the API's error answers.
 */
export type ErrorCodeCarriedBy<C extends ErrorCarrier> = {
  [K in ErrorCode]: [Extract<Registry[K]['carriers'][number], C>] extends [never] ? never : K;
}[ErrorCode];

/** Every code, in registry order. */
export const ERROR_CODE_LIST: readonly ErrorCode[] = Object.freeze(Object.keys(ERROR_CODES) as ErrorCode[]);

/** True for a string that is a registry code (for codes read back from a thread, a file or the network). */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** The codes any of `carriers` carries, in registry order (carriers compared as written, e.g. `'HTTP 503'`). */
export function errorCodesCarriedBy<const C extends ErrorCarrier>(...carriers: C[]): readonly ErrorCodeCarriedBy<C>[] {
  const wanted = new Set<ErrorCarrier>(carriers);
  return Object.freeze(ERROR_CODE_LIST.filter((code) => ERROR_CODES[code].carriers.some((c) => wanted.has(c))) as ErrorCodeCarriedBy<C>[]);
}
