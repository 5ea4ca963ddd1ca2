/**
 * The database schema as numbered migrations. Migration `i` (0-based) takes the schema from
 * `PRAGMA user_version` i to i + 1. Append only: never edit a migration that has shipped, since
 * databases in the field have already run it.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: agents, results, hourly roll-ups.
  `
  CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    site_kind TEXT NOT NULL,
    technology TEXT NOT NULL,
    isp TEXT,
    area TEXT,
    lat REAL,
    lon REAL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    version TEXT,
    last_seen_at INTEGER
  ) STRICT;

  -- One row per measurement. ts is the result's startedAt in ms; the metric columns are
  -- copies of fields of doc (the JSON the agent sent), NULL where the result has none.
  CREATE TABLE results (
    id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents (id),
    ts INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    download_mbps REAL,
    upload_mbps REAL,
    latency_ms REAL,
    jitter_ms REAL,
    loss_ratio REAL,
    doc TEXT NOT NULL
  ) STRICT;
  CREATE INDEX results_agent_ts ON results (agent_id, ts);
  CREATE INDEX results_ts ON results (ts);

  -- Per agent and hour (ms of the hour's start), for each series metric: count, min, mean,
  -- median and max of the hour's non-NULL values (count 0 and NULLs when it has none).
  -- One row per agent-hour rather than per metric: five times fewer rows to write and store.
  -- Kept after the raw results are dropped: they are the long-range data.
  CREATE TABLE rollups_hourly (
    agent_id TEXT NOT NULL REFERENCES agents (id),
    hour INTEGER NOT NULL,
    download_mbps_count INTEGER NOT NULL, download_mbps_min REAL, download_mbps_mean REAL, download_mbps_median REAL, download_mbps_max REAL,
    upload_mbps_count INTEGER NOT NULL, upload_mbps_min REAL, upload_mbps_mean REAL, upload_mbps_median REAL, upload_mbps_max REAL,
    latency_ms_count INTEGER NOT NULL, latency_ms_min REAL, latency_ms_mean REAL, latency_ms_median REAL, latency_ms_max REAL,
    jitter_ms_count INTEGER NOT NULL, jitter_ms_min REAL, jitter_ms_mean REAL, jitter_ms_median REAL, jitter_ms_max REAL,
    loss_ratio_count INTEGER NOT NULL, loss_ratio_min REAL, loss_ratio_mean REAL, loss_ratio_median REAL, loss_ratio_max REAL,
    PRIMARY KEY (agent_id, hour)
  ) STRICT, WITHOUT ROWID;

  -- One row. rolled_up_to: every hour ending at or before it is rolled up (NULL: never);
  -- deleted_before: raw results older than it have been dropped (the largest retention cut so far).
  CREATE TABLE rollup_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    rolled_up_to INTEGER,
    deleted_before INTEGER
  ) STRICT;
  INSERT INTO rollup_state (id) VALUES (1);

  -- Hours already rolled up that received a late result: recomputed by the next maintain.
  CREATE TABLE dirty_hours (
    agent_id TEXT NOT NULL,
    hour INTEGER NOT NULL,
    PRIMARY KEY (agent_id, hour)
  ) STRICT, WITHOUT ROWID;
  `,
  // 2: the collector's own alerts (collector/src/alerts/, docs/alerts.md).
  `
  -- Alerts pending or firing now, one row per label set. labels and annotations are JSON
  -- objects; active_at is when the condition was first seen true, fired_at when its "for"
  -- duration had passed (the notification's startsAt). A resolved alert leaves this table:
  -- what its webhooks still need to hear is in alert_notifications.
  CREATE TABLE alerts (
    fingerprint TEXT PRIMARY KEY,
    alertname TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'firing')),
    value REAL,
    active_at INTEGER NOT NULL,
    fired_at INTEGER,
    updated_at INTEGER NOT NULL
  ) STRICT;

  -- Per webhook and alert, the last state the webhook must hear (firing with its starts_at, or
  -- resolved) and whether it has: the outbox and the record that prevents a repeat. webhook is
  -- a hash of the URL, so no secret in a URL is stored. alert is the Alertmanager alert object
  -- as sent (labels, annotations, startsAt, endsAt, fingerprint). seq grows at every new state,
  -- so a delivery still in flight cannot mark a newer state delivered.
  CREATE TABLE alert_notifications (
    webhook TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    alertname TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    starts_at INTEGER NOT NULL,
    alert TEXT NOT NULL,
    seq INTEGER NOT NULL,
    delivered_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    PRIMARY KEY (webhook, fingerprint)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX alert_notifications_due ON alert_notifications (next_attempt_at) WHERE delivered_at IS NULL;
  `,
  // 3: a counter that moves whenever an agent's identity changes (added, revoked, token rotated,
  // site edited), so the running collector's in-memory agent table (agent-directory.ts) knows,
  // from one cheap read per heartbeat, that it must reload. The liveness columns (version,
  // last_seen_at), written at every hello, do not move it.
  `
  CREATE TABLE agent_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
  ) STRICT;
  INSERT INTO agent_changes (id, seq) VALUES (1, 0);
  CREATE TRIGGER agents_inserted AFTER INSERT ON agents
    BEGIN UPDATE agent_changes SET seq = seq + 1 WHERE id = 1; END;
  CREATE TRIGGER agents_deleted AFTER DELETE ON agents
    BEGIN UPDATE agent_changes SET seq = seq + 1 WHERE id = 1; END;
  CREATE TRIGGER agents_changed AFTER UPDATE OF id, name, site_kind, technology, isp, area, lat, lon, token_hash, revoked_at ON agents
    BEGIN UPDATE agent_changes SET seq = seq + 1 WHERE id = 1; END;
  `,
  // 4: one-time enrollment codes (enrollment-codes.ts, docs/deploy.md). Only the SHA-256 of a
  // code is stored, like tokens'. An agent waiting for its box holds a token hash nobody knows
  // until its code is used, which sets the real one.
  `
  CREATE TABLE enrollment_codes (
    code_hash TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
  ) STRICT;
  CREATE INDEX enrollment_codes_agent ON enrollment_codes (agent_id);
  `,
  // 5: fleet health, each agent's latest `health` report
  // (docs/protocol.md#health-agent--collector), written by the store writer at most once per
  // agent per heartbeat and loaded at start. received_at is the collector's clock at receipt
  // (ms); skew_ms the agent's clock minus it; report the message as validated, without its type
  // (JSON).
  `
  CREATE TABLE agent_health (
    agent_id TEXT PRIMARY KEY REFERENCES agents (id),
    received_at INTEGER NOT NULL,
    skew_ms INTEGER NOT NULL,
    report TEXT NOT NULL
  ) STRICT;
  `,
  // 6: agents paused from the API (POST /api/v1/pause): they keep their connection and stop
  // testing until resumed. A change moves agent_changes.seq, so every collector's in-memory
  // agent table reloads and the agents are sent their new settings.
  `
  ALTER TABLE agents ADD COLUMN paused_at INTEGER;
  CREATE TRIGGER agents_paused AFTER UPDATE OF paused_at ON agents
    BEGIN UPDATE agent_changes SET seq = seq + 1 WHERE id = 1; END;
  `,
  // 7: the optional registry of administrative units (area-units.ts, `areas import`): official
  // codes, names and parents, with the dates each unit was valid (Vietnam's units were
  // reorganised in 2025: provinces merged, the district level removed). Sites may name their area
  // by code (agents.area_code); the path of names is resolved from the registry as of a date.
  `
  CREATE TABLE area_units (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    parent_code TEXT,
    valid_from INTEGER,
    valid_to INTEGER
  ) STRICT;
  ALTER TABLE agents ADD COLUMN area_code TEXT;
  `,
  // 8: a site's contracted download speed (Mbps), when it declares one: representative samples
  // leave out tests well above it (docs/verdicts.md). A change reloads every collector's agents.
  `
  ALTER TABLE agents ADD COLUMN contract_mbps REAL;
  CREATE TRIGGER agents_contract_changed AFTER UPDATE OF contract_mbps ON agents
    BEGIN UPDATE agent_changes SET seq = seq + 1 WHERE id = 1; END;
  `,
  // 9: alerts routed to channels (docs/alerts.md#routes). The outbox is kept per route instead
  // of per webhook: alert_notifications.webhook becomes route, the route's key. An entry of
  // alerts.webhooks is a route whose key is the hash of its URL, as the column held, so the rows
  // written before stay its outbox and its record of what it heard; a configured route's key is
  // a hash of its name and channel, and its digest is one row with fingerprint 'digest'
  // (starts_at: the day's digest time). alerts.confirm_requested_at: when the collector asked the
  // site's agent for the test that confirms a SpeedwatchSiteBelowTarget before it fires (NULL:
  // not asked).
  `
  ALTER TABLE alert_notifications RENAME COLUMN webhook TO route;
  ALTER TABLE alerts ADD COLUMN confirm_requested_at INTEGER;
  `,
  // 10: whether a result ran on a busy line (its busyLine.flagged, docs/measurement.md "Busy
  // lines"): 1 flagged, 0 checked and quiet, NULL not checked (older agents, other systems).
  // Verdicts may leave the flagged tests out (verdicts.excludeCrossTraffic).
  `
  ALTER TABLE results ADD COLUMN busy INTEGER;
  `,
  // 11: each agent's newest result carrying a `udp` section (docs/measurement.md "UDP
  // quality"), its figures in columns: the /metrics gauges and the site page read it. Kept by
  // every write, since an agent's latest result may lack the section (the reflector did not
  // answer) and finding the newest one in the documents would read every result of an agent
  // that never had one. Not dropped by retention: it stays until a newer one replaces it.
  // Filled here from each agent's last 10 results only: reading every stored document would
  // hold the start of a large database for minutes, and an agent running the probe has it in
  // nearly every test (OR IGNORE: a document without a figure is skipped, not a failed start).
  `
  CREATE TABLE latest_udp (
    agent_id TEXT PRIMARY KEY REFERENCES agents (id),
    result_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    rtt_median_ms REAL NOT NULL,
    rtt_p95_ms REAL NOT NULL,
    forward_jitter_ms REAL NOT NULL,
    return_jitter_ms REAL NOT NULL,
    loss_ratio REAL NOT NULL,
    forward_loss_ratio REAL NOT NULL,
    return_loss_ratio REAL NOT NULL
  ) STRICT;
  INSERT OR IGNORE INTO latest_udp (agent_id, result_id, ts, rtt_median_ms, rtt_p95_ms, forward_jitter_ms, return_jitter_ms, loss_ratio, forward_loss_ratio, return_loss_ratio)
  SELECT agent_id, id, ts,
    json_extract(doc, '$.udp.rttMedianMs'), json_extract(doc, '$.udp.rttP95Ms'),
    json_extract(doc, '$.udp.forwardJitterMs'), json_extract(doc, '$.udp.returnJitterMs'),
    json_extract(doc, '$.udp.lossRatio'), json_extract(doc, '$.udp.forwardLossRatio'), json_extract(doc, '$.udp.returnLossRatio')
  FROM (
    SELECT r.agent_id, r.id, r.ts, r.doc, row_number() OVER (PARTITION BY r.agent_id ORDER BY r.ts DESC, r.id DESC) AS n
    FROM agents a JOIN results r ON r.rowid IN (SELECT rowid FROM results INDEXED BY results_agent_ts WHERE agent_id = a.id ORDER BY ts DESC LIMIT 10)
    WHERE json_type(r.doc, '$.udp') = 'object'
  )
  WHERE n = 1;
  `,
];
