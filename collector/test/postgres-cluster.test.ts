/**
 * The tests' own PostgreSQL (postgres-cluster.ts): what every PostgreSQL test relies on, checked
 * once: the login role connects over TCP with its password and only with it, and is not a
 * superuser (as the collector's role would not be in production).
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { clusterForTests, TEST_ROLE } from './postgres-for-tests.js';

const postgres = clusterForTests();

describe.skipIf(postgres.skip)('the tests\' PostgreSQL cluster', () => {
  const connect = async (database: string, password: string): Promise<pg.Client> => {
    const { host, port } = postgres.cluster();
    const client = new pg.Client({ host, port, user: TEST_ROLE, database, password });
    await client.connect();
    return client;
  };

  it('lets the test role into a new database of its own over TCP with its password', async () => {
    const cluster = postgres.cluster();
    const database = await cluster.createDatabase();
    const client = await connect(database, cluster.password);
    try {
      const { rows } = await client.query<{ user: string; owner: string; superuser: boolean }>(
        'SELECT current_user AS user, pg_get_userbyid(datdba) AS owner, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser FROM pg_database WHERE datname = current_database()',
      );
      expect(rows).toEqual([{ user: TEST_ROLE, owner: TEST_ROLE, superuser: false }]);
    } finally {
      await client.end();
    }
  });

  it('refuses the test role with a wrong password (scram-sha-256 on TCP)', async () => {
    const database = await postgres.cluster().createDatabase();
    await expect(connect(database, 'not-the-password')).rejects.toMatchObject({ code: '28P01' });
  });
});
