export { describeProblems, freezeProblems, OptionsError, problemAt, SpeedwatchError, ValidationError, UsageError } from './errors/speedwatch-error.js';
export type { Problem } from './errors/speedwatch-error.js';
export { ERROR_CODE_LIST, ERROR_CODES, ERROR_COMPONENTS, errorCodesCarriedBy, isErrorCode } from './errors/error-codes.js';
export type { ErrorCarrier, ErrorCode, ErrorCodeCarriedBy, ErrorCodeInfo, ErrorComponent } from './errors/error-codes.js';
export { createLogger, isLogger, isLogLevel, LOG_LEVELS } from './log/logger.js';
export type { Logger, LoggerOptions, LogLevel } from './log/logger.js';
export { array, boolean, custom, keyPath, number, object, oneOf, optional, parseAll, refine, select, string, transform } from './validate/schema.js';
export { durationMs, sizeBytes } from './validate/unit-schemas.js';
export { deepFreeze } from './validate/deep-freeze.js';
export type { Check, DeepPartial, NumberRule, ObjectSchema, OptionalSchema, ParseAllResult, Report, Schema, StringRule } from './validate/schema.js';
export { BITS_PER_MBPS, MIB, bytesFromMbps, mbpsFromBytes, round } from './units/units.js';
export { DURATION_EXPECTED, SIZE_EXPECTED, parseDurationMs, parseSizeBytes } from './units/parse.js';
export { RECEIVED_BYTES_HEADER } from './protocol/endpoint-protocol.js';
export {
  STAMP_ERROR_ESTIMATE,
  STAMP_MAX_PACKET_BYTES,
  STAMP_MIN_PACKET_BYTES,
  readNtpTimestamp,
  readReflectorPacket,
  reflectInPlace,
  senderSsid,
  writeNtpTimestamp,
  writeSenderPacket,
} from './protocol/stamp.js';
export type { ReflectedPacket } from './protocol/stamp.js';
export { jitter, mean, median, percentile, summarize } from './stats/stats.js';
export { seededRandom } from './random/seeded-random.js';
export type { Summary } from './stats/stats.js';
export { BUDGET_ACTIONS, BUDGET_REASONS, PHASES, RESULT_ERROR_CODES, RESULT_SCHEMA_VERSION, RESULT_STATUSES, SELECTION_REASONS, TECHNOLOGIES } from './result/result.js';
export type {
  BudgetAction,
  BudgetDecision,
  BudgetReason,
  BusyLine,
  DataUsage,
  EndpointCandidate,
  EndpointChoice,
  LatencyResult,
  LoadedLatency,
  MeasurementResult,
  Phase,
  ResultError,
  ResultErrorCode,
  ResultStatus,
  SelectionReason,
  Technology,
  ThroughputRamp,
  ThroughputResult,
  UdpResult,
} from './result/result.js';
export { measurementResultSchema, parseMeasurementResult } from './result/result-schema.js';
export { LIBRESPEED_OVERHEAD_FACTOR, MEASUREMENT_METHOD, MEASUREMENT_METHOD_PATTERN, librespeedStyleMbps, methodVersion } from './result/librespeed-figure.js';
export type { MeasurementMethod } from './result/librespeed-figure.js';
export { DEFAULT_TARGETS, checkResult } from './targets/targets.js';
export type { ResultVerdict, Target, TargetCheck, TargetMetric } from './targets/targets.js';
export { SITE_KINDS, areaKey, areaLevels, areaLooseKey, canonicalArea, siteSchema } from './protocol/site.js';
export type { Site, SiteKind } from './protocol/site.js';
export {
  AGENTS_PATH,
  CLOSE_CODES,
  COLLECTOR_MESSAGE_TYPES,
  HEALTH_RANGES,
  PROTOCOL_VERSION,
  WIRE_LIMIT_RANGES,
  ackSchema,
  configAppliedSchema,
  configMessageSchema,
  MAX_TEST_NOW_DELAY_MS,
  testNowSchema,
  errorMessageSchema,
  healthSchema,
  helloSchema,
  parseCollectorMessage,
  rejectSchema,
  resultsSchema,
  upgradeMessageSchema,
  welcomeSchema,
  wireLimitsSchema,
} from './protocol/wire.js';
export type {
  AckMessage,
  AgentMessage,
  CollectorMessage,
  ConfigAppliedMessage,
  ConfigMessage,
  TestNowMessage,
  ReceivedCollectorMessage,
  ReceivedErrorMessage,
  ReceivedRejectMessage,
  ErrorMessage,
  HealthDataUsage,
  HealthLastTest,
  HealthMessage,
  HelloMessage,
  RejectCode,
  RejectMessage,
  ResultsMessage,
  UnknownCollectorMessage,
  UpgradeMessage,
  WelcomeMessage,
  WireErrorCode,
  WireLimits,
} from './protocol/wire.js';
export {
  ENROLLMENT_CODE_BITS,
  ENROLLMENT_CODE_RANDOM_BYTES,
  EnrollmentCodeError,
  formatEnrollmentCode,
  makeEnrollmentCode,
  parseEnrollmentCode,
} from './enroll/enrollment-code.js';
export { MIN_THROUGHPUT_WINDOW_MS, SETTINGS_RANGES, SETTINGS_TEST_NAMES, agentSettingsSchema, budgetSettingsSchema, defaultWarmupFor, endpointUrlSchema, testSettingsSchema, timeZoneSchema } from './protocol/agent-settings.js';
export type { AgentSettings, BudgetSettings, SettingsTestName, TestSettings } from './protocol/agent-settings.js';
export {
  AGENT_VERSION_PATTERN,
  MAX_RELEASE_BYTES,
  RELEASES_PATH,
  agentReleaseFile,
  agentVersionSchema,
  releaseBytesSchema,
  releasePathSchema,
  sha256Schema,
  versionOfReleaseFile,
} from './protocol/release.js';
export { isTimeZone, zonedDate, zonedMidnight, zonedMonth, zoneOffsetMs } from './time/zoned-time.js';
export type { ZonedMonth } from './time/zoned-time.js';
