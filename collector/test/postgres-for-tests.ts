/**
 * One throwaway PostgreSQL cluster (postgres-cluster.ts) for every PostgreSQL test of a file,
 * started before them and stopped after; skipped with the reason printed where PostgreSQL is
 * not installed, failing under CI=true.
 */
import { afterAll, beforeAll } from 'vitest';
import { postgresUnavailable, startPostgresCluster } from './postgres-cluster.js';
import type { ClusterOptions, PostgresCluster } from './postgres-cluster.js';

export { TEST_ROLE } from './postgres-cluster.js';
export type { PostgresCluster } from './postgres-cluster.js';

export interface ClusterForTests {
  /** True when the PostgreSQL tests of the file are to be skipped (not installed, and not CI). */
  skip: boolean;
  /** The file's cluster, once beforeAll has started it. */
  cluster(): PostgresCluster;
}

/**
 * One cluster for every PostgreSQL test of the calling file: started in beforeAll, stopped in
 * afterAll. Not installed: `skip` is true and the reason is printed once; under CI=true the
 * hook fails instead, so a CI without PostgreSQL cannot pass by skipping.
 */
export function clusterForTests(options: ClusterOptions = {}): ClusterForTests {
  const unavailable = postgresUnavailable();
  const ci = process.env['CI'] === 'true';
  const skip = unavailable !== undefined && !ci;
  let cluster: PostgresCluster | undefined;
  if (skip) {
    process.stderr.write(`PostgreSQL tests skipped: ${unavailable}\n`);
  } else {
    beforeAll(async () => {
      if (unavailable !== undefined) throw new Error(`CI=true and ${unavailable}: .ci/run installs postgresql`);
      cluster = await startPostgresCluster(options);
    }, 60_000);
    afterAll(async () => {
      await cluster?.stop();
    }, 60_000);
  }
  return {
    skip,
    cluster() {
      if (cluster === undefined) throw new Error('the PostgreSQL cluster has not started (beforeAll failed)');
      return cluster;
    },
  };
}
