/**
 * The PostgreSQL schema as numbered migrations, recorded in `schema_migrations` and applied at
 * start in one transaction under an advisory lock (several collectors may start at once).
 * Append only: never edit a migration that has shipped. A database migrated by a newer
 * speedwatch is refused (`SW_STORE_VERSION`).
 *
 * The schema mirrors SQLite's (migrations.ts) with what a large fleet needs:
 * - `results` is partitioned by month on `ts` (its start, ms). Partitions are created ahead by
 *   maintenance, and on demand by a write for a month that has none; retention drops whole
 *   partitions (postgres-partitions.ts).
 * - A primary key on a partitioned table must include the partition key, so `(id)` alone cannot
 *   be one. Ids are global (the same id from another agent, or the same result re-sent to
 *   another collector, is a duplicate), so they are claimed in `result_ids` (id primary key, and
 *   the result's ts so that retention can drop the ids with their partition): a write inserts
 *   into `result_ids … ON CONFLICT DO NOTHING` and stores in `results` only the ids it claimed,
 *   in one statement. Putting the month into the id would have needed agents to change theirs.
 * - `tx` is the writing transaction's id: what the verdict window reads "since" and what the
 *   roll-ups check against their snapshot (SQLite uses the rowid for both). A BRIN index: it
 *   grows with the table's physical order, and costs a few pages.
 * - No foreign key from `results` to `agents`: ingest stores only authenticated agents' results,
 *   and the check would lock the agent's row at every insert.
 * - Identifiers and ids sort as bytes (`COLLATE "C"`), as SQLite's do, whatever the database's
 *   locale: result pages and their cursors order by (ts, id).
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  // 1: agents, enrollment codes, health, area units; results, roll-ups, retention state.
  `
  CREATE TABLE agents (
    id text COLLATE "C" PRIMARY KEY,
    name text NOT NULL,
    site_kind text NOT NULL,
    technology text NOT NULL,
    isp text,
    area text,
    area_code text,
    lat double precision,
    lon double precision,
    token_hash text NOT NULL UNIQUE,
    created_at bigint NOT NULL,
    revoked_at bigint,
    version text,
    last_seen_at bigint,
    paused_at bigint
  );

  -- Moves whenever an agent's identity changes (added, revoked, token rotated, site edited,
  -- paused or resumed), so every collector's in-memory agent table knows from one cheap read
  -- per heartbeat that it must reload. Liveness (version, last_seen_at) does not move it.
  CREATE TABLE agent_changes (
    id integer PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL
  );
  INSERT INTO agent_changes (id, seq) VALUES (1, 0);
  CREATE FUNCTION speedwatch_agent_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN UPDATE agent_changes SET seq = seq + 1 WHERE id = 1; RETURN NULL; END
  $$;
  CREATE TRIGGER agents_added_or_removed AFTER INSERT OR DELETE ON agents
    FOR EACH ROW EXECUTE FUNCTION speedwatch_agent_changed();
  CREATE TRIGGER agents_changed AFTER UPDATE OF id, name, site_kind, technology, isp, area, area_code, lat, lon, token_hash, revoked_at, paused_at ON agents
    FOR EACH ROW EXECUTE FUNCTION speedwatch_agent_changed();

  CREATE TABLE enrollment_codes (
    code_hash text PRIMARY KEY,
    agent_id text COLLATE "C" NOT NULL REFERENCES agents (id),
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    used_at bigint
  );
  CREATE INDEX enrollment_codes_agent ON enrollment_codes (agent_id);

  CREATE TABLE agent_health (
    agent_id text COLLATE "C" PRIMARY KEY REFERENCES agents (id),
    received_at bigint NOT NULL,
    skew_ms bigint NOT NULL,
    report text NOT NULL
  );

  CREATE TABLE area_units (
    code text COLLATE "C" PRIMARY KEY,
    name text NOT NULL,
    parent_code text,
    valid_from bigint,
    valid_to bigint
  );

  -- Every stored result's id, once: what makes writes idempotent across partitions and collectors.
  CREATE TABLE result_ids (
    id text COLLATE "C" PRIMARY KEY,
    ts bigint NOT NULL
  );
  CREATE INDEX result_ids_ts ON result_ids USING brin (ts);

  -- One row per measurement, as in SQLite; doc is the result as the agent sent it (json keeps
  -- the text as it is, and serves ->> in queries).
  CREATE TABLE results (
    id text COLLATE "C" NOT NULL,
    agent_id text COLLATE "C" NOT NULL,
    ts bigint NOT NULL,
    received_at bigint NOT NULL,
    status text NOT NULL,
    download_mbps double precision,
    upload_mbps double precision,
    latency_ms double precision,
    jitter_ms double precision,
    loss_ratio double precision,
    doc json NOT NULL,
    tx bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint)
  ) PARTITION BY RANGE (ts);
  CREATE INDEX results_agent_ts ON results (agent_id, ts);
  CREATE INDEX results_ts ON results (ts);
  CREATE INDEX results_tx ON results USING brin (tx);

  -- Per agent and hour: count, min, mean, median and max of each series metric (rollups.ts).
  CREATE TABLE rollups_hourly (
    agent_id text COLLATE "C" NOT NULL,
    hour bigint NOT NULL,
    download_mbps_count integer NOT NULL, download_mbps_min double precision, download_mbps_mean double precision, download_mbps_median double precision, download_mbps_max double precision,
    upload_mbps_count integer NOT NULL, upload_mbps_min double precision, upload_mbps_mean double precision, upload_mbps_median double precision, upload_mbps_max double precision,
    latency_ms_count integer NOT NULL, latency_ms_min double precision, latency_ms_mean double precision, latency_ms_median double precision, latency_ms_max double precision,
    jitter_ms_count integer NOT NULL, jitter_ms_min double precision, jitter_ms_mean double precision, jitter_ms_median double precision, jitter_ms_max double precision,
    loss_ratio_count integer NOT NULL, loss_ratio_min double precision, loss_ratio_mean double precision, loss_ratio_median double precision, loss_ratio_max double precision,
    PRIMARY KEY (agent_id, hour)
  );

  -- rolled_up_to: every hour ending at or before it is rolled up (NULL: never); deleted_before:
  -- the partitions of raw results before it have been dropped.
  CREATE TABLE rollup_state (
    id integer PRIMARY KEY CHECK (id = 1),
    rolled_up_to bigint,
    deleted_before bigint
  );
  INSERT INTO rollup_state (id) VALUES (1);

  CREATE TABLE dirty_hours (
    agent_id text COLLATE "C" NOT NULL,
    hour bigint NOT NULL,
    PRIMARY KEY (agent_id, hour)
  );
  `,
  // 2: how far `speedwatch-collector migrate` has copied each SQLite file's results (by rowid),
  // so that a second run, once the old collector is stopped, copies only the rest.
  `
  CREATE TABLE sqlite_imports (
    source text PRIMARY KEY,
    last_rowid bigint NOT NULL,
    updated_at bigint NOT NULL
  );
  `,
  // 3: a site's contracted download speed (Mbps), as SQLite's migration 8: representative
  // samples leave out tests well above it (docs/verdicts.md); a change reloads every collector's agents.
  `
  ALTER TABLE agents ADD COLUMN contract_mbps double precision;
  CREATE TRIGGER agents_contract_changed AFTER UPDATE OF contract_mbps ON agents
    FOR EACH ROW EXECUTE FUNCTION speedwatch_agent_changed();
  `,  // 4: several collectors on one database (docs/operations.md, "Several collectors").
  // - leases: work done by one collector at a time for the fleet (maintenance, verdicts,
  //   alerts), held by renewing `expires_at` (the database's clock) before it passes; `epoch`
  //   moves at each change of holder. lease_fences: the newest epoch that wrote under each
  //   lease, so that a write of an older holder after a newer one's is refused (a fencing
  //   token: the lease's own row is never locked by a write, so renewals never wait for one).
  // - collectors: those serving now, each renewing `expires_at` every heartbeat; a row whose
  //   time has passed is a collector that died (its connections no longer count).
  // - agent_connections: the collector holding each agent's connection. The connection
  //   registered last wins: a collector that finds another named here closes its own.
  // - verdict_state, verdict_agents, verdict_groups: the verdicts the lease holder computed, as
  //   the JSON it serves, for the other collectors to serve the same. An agent's or a
  //   grouping's row moves to the publication `seq` that changed it; an agent's `verdicts`
  //   NULL: it has none any more.
  // - alerts, alert_notifications: as SQLite's (migrations 2 and 9), so that whichever
  //   collector holds the lease evaluates and delivers from the same state and outbox;
  //   alert_evaluations: when they were last evaluated, and by whom.
  `
  CREATE TABLE leases (
    name text PRIMARY KEY,
    holder text NOT NULL,
    epoch bigint NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
  );
  CREATE TABLE lease_fences (
    name text PRIMARY KEY,
    epoch bigint NOT NULL
  );

  CREATE TABLE collectors (
    id text PRIMARY KEY,
    url text NOT NULL,
    started_at timestamptz NOT NULL,
    seen_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
  );

  CREATE TABLE agent_connections (
    agent_id text COLLATE "C" PRIMARY KEY,
    collector text NOT NULL,
    conn bigint NOT NULL,
    connected_at timestamptz NOT NULL
  );
  CREATE INDEX agent_connections_collector ON agent_connections (collector);

  CREATE TABLE verdict_state (
    id integer PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL,
    computed_at bigint,
    holder text
  );
  INSERT INTO verdict_state (id, seq) VALUES (1, 0);
  CREATE TABLE verdict_agents (
    agent_id text COLLATE "C" PRIMARY KEY,
    seq bigint NOT NULL,
    verdicts text
  );
  CREATE INDEX verdict_agents_seq ON verdict_agents (seq);
  CREATE TABLE verdict_groups (
    group_by text NOT NULL,
    window_name text NOT NULL,
    seq bigint NOT NULL,
    verdicts text NOT NULL,
    PRIMARY KEY (group_by, window_name)
  );

  CREATE TABLE alerts (
    fingerprint text COLLATE "C" PRIMARY KEY,
    alertname text NOT NULL,
    labels text NOT NULL,
    annotations text NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'firing')),
    value double precision,
    active_at bigint NOT NULL,
    fired_at bigint,
    confirm_requested_at bigint,
    updated_at bigint NOT NULL
  );
  CREATE TABLE alert_notifications (
    route text COLLATE "C" NOT NULL,
    fingerprint text COLLATE "C" NOT NULL,
    alertname text COLLATE "C" NOT NULL,
    status text NOT NULL CHECK (status IN ('firing', 'resolved')),
    starts_at bigint NOT NULL,
    alert text NOT NULL,
    seq bigint NOT NULL,
    delivered_at bigint,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at bigint NOT NULL,
    last_error text,
    PRIMARY KEY (route, fingerprint)
  );
  CREATE TABLE alert_evaluations (
    id integer PRIMARY KEY CHECK (id = 1),
    evaluated_at bigint NOT NULL,
    holder text NOT NULL
  );
  `,
  // 5: whether a result ran on a busy line, as SQLite's migration 10 (1 flagged, 0 checked and
  // quiet, NULL not checked): verdicts may leave those tests out (verdicts.excludeCrossTraffic).
  // Added to the partitioned table, so to every month's partition.
  `
  ALTER TABLE results ADD COLUMN busy smallint;
  `,
  // 6: each agent's newest result carrying a udp section, its figures in columns, as SQLite's
  // migration 11 (kept by every write, not dropped by retention), filled here from each agent's
  // last 10 results (a document lacking a figure is skipped).
  `
  CREATE TABLE latest_udp (
    agent_id text COLLATE "C" PRIMARY KEY REFERENCES agents (id),
    result_id text COLLATE "C" NOT NULL,
    ts bigint NOT NULL,
    rtt_median_ms double precision NOT NULL,
    rtt_p95_ms double precision NOT NULL,
    forward_jitter_ms double precision NOT NULL,
    return_jitter_ms double precision NOT NULL,
    loss_ratio double precision NOT NULL,
    forward_loss_ratio double precision NOT NULL,
    return_loss_ratio double precision NOT NULL
  );
  INSERT INTO latest_udp (agent_id, result_id, ts, rtt_median_ms, rtt_p95_ms, forward_jitter_ms, return_jitter_ms, loss_ratio, forward_loss_ratio, return_loss_ratio)
  SELECT a.id, u.id, u.ts, u.rtt_median_ms, u.rtt_p95_ms, u.forward_jitter_ms, u.return_jitter_ms, u.loss_ratio, u.forward_loss_ratio, u.return_loss_ratio
  FROM agents a CROSS JOIN LATERAL (
    SELECT l.id, l.ts,
      (l.doc #>> '{udp,rttMedianMs}')::float8 AS rtt_median_ms, (l.doc #>> '{udp,rttP95Ms}')::float8 AS rtt_p95_ms,
      (l.doc #>> '{udp,forwardJitterMs}')::float8 AS forward_jitter_ms, (l.doc #>> '{udp,returnJitterMs}')::float8 AS return_jitter_ms,
      (l.doc #>> '{udp,lossRatio}')::float8 AS loss_ratio, (l.doc #>> '{udp,forwardLossRatio}')::float8 AS forward_loss_ratio,
      (l.doc #>> '{udp,returnLossRatio}')::float8 AS return_loss_ratio
    FROM (SELECT id, ts, doc FROM results WHERE agent_id = a.id ORDER BY ts DESC, id DESC LIMIT 10) l
    WHERE json_typeof(l.doc -> 'udp') = 'object'
    ORDER BY l.ts DESC, l.id DESC LIMIT 1
  ) u
  WHERE num_nonnulls(u.rtt_median_ms, u.rtt_p95_ms, u.forward_jitter_ms, u.return_jitter_ms, u.loss_ratio, u.forward_loss_ratio, u.return_loss_ratio) = 7;
  `,
];
