/**
 * The files enrollment leaves in the data dir for the daemon. Their own module, without
 * enroll.ts's HTTP client: the daemon (`run`) reads these names and must not load undici.
 */

/** The agent's token (mode 0600). */
export const TOKEN_FILE = 'token';
/** Present until the first test after enrollment: the daemon tests at once. */
export const FIRST_TEST_MARKER = 'first-test-pending';
/** The first test's result, written by the daemon for `first-test`. */
export const FIRST_TEST_FILE = 'first-test.json';
