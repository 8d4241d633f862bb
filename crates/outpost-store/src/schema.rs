//! Append-only migrations. Never edit a shipped migration: add a new one at the end.

pub const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    network TEXT NOT NULL,
    handle TEXT NOT NULL,
    remote_id TEXT,
    display_name TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    status_reason TEXT,
    token_expires_at INTEGER,
    scopes TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    UNIQUE (network, handle)
) STRICT;

CREATE TABLE posts (
    id TEXT PRIMARY KEY,
    content TEXT NOT NULL,
    scheduled_at INTEGER,
    time_zone TEXT NOT NULL,
    status TEXT NOT NULL,
    error_summary TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX posts_scheduled ON posts (scheduled_at);

CREATE TABLE targets (
    id TEXT PRIMARY KEY,
    post_id TEXT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    account_id TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    network TEXT NOT NULL,
    state TEXT NOT NULL,
    due_at INTEGER,
    next_attempt_at INTEGER,
    wait_reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    remote_id TEXT,
    remote_url TEXT,
    progress TEXT NOT NULL DEFAULT '[]',
    last_error TEXT,
    error_class TEXT,
    lease_owner TEXT,
    lease_until INTEGER,
    phase TEXT,
    processing_since INTEGER,
    updated_at INTEGER NOT NULL,
    UNIQUE (post_id, account_id)
) STRICT;
CREATE INDEX targets_due ON targets (state, next_attempt_at);
CREATE INDEX targets_lease ON targets (lease_until) WHERE lease_until IS NOT NULL;
CREATE INDEX targets_post ON targets (post_id);
CREATE INDEX targets_account ON targets (account_id, state);

CREATE TABLE attempts (
    id INTEGER PRIMARY KEY,
    target_id TEXT NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    account_id TEXT,
    network TEXT NOT NULL,
    part_index INTEGER NOT NULL,
    idem_key TEXT NOT NULL,
    try_no INTEGER NOT NULL,
    status TEXT NOT NULL,
    error_class TEXT,
    client_handle TEXT,
    intent_at INTEGER NOT NULL,
    remote_id TEXT,
    message TEXT,
    excerpt TEXT,
    runner TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    duration_ms INTEGER,
    UNIQUE (idem_key, try_no)
) STRICT;
CREATE INDEX attempts_target ON attempts (target_id, part_index);
CREATE INDEX attempts_quota ON attempts (account_id, status, started_at);

CREATE TABLE media (
    sha256 TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    mime TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    width INTEGER,
    height INTEGER,
    duration_ms INTEGER,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE network_state (
    scope TEXT PRIMARY KEY,
    breaker TEXT NOT NULL DEFAULT '{}',
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE runners (
    id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    kind TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    last_wake_at INTEGER,
    next_due_at INTEGER,
    queue_depth INTEGER NOT NULL DEFAULT 0,
    in_flight INTEGER NOT NULL DEFAULT 0,
    stopped_at INTEGER
) STRICT;

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
"#,
    // 2: count every wake of a runner (idle wake-ups per minute are a measured budget).
    r#"
ALTER TABLE runners ADD COLUMN wakes INTEGER NOT NULL DEFAULT 0;
"#,
    // 3: leases are looked up by owner (renew, release, expire) and the queue depth counts
    // unleased due targets: index both so they stay fast with 100,000 posts.
    r#"
CREATE INDEX targets_lease_owner ON targets (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX targets_due_free ON targets (state, next_attempt_at) WHERE lease_owner IS NULL;
"#,
    // 4: what probing found about media, and where it came from.
    r#"
ALTER TABLE media ADD COLUMN frame_rate REAL;
ALTER TABLE media ADD COLUMN video_codec TEXT;
ALTER TABLE media ADD COLUMN audio_codec TEXT;
ALTER TABLE media ADD COLUMN animated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE media ADD COLUMN source TEXT;
"#,
    // 5: media copied to the user's public bucket for networks that fetch by URL — one row per
    // object and target, so an object is deleted once every target using it is finished, and
    // a crash cannot lose track of it.
    r#"
CREATE TABLE staged (
    key TEXT NOT NULL,
    target_id TEXT NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    url TEXT NOT NULL,
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    deleted_at INTEGER,
    PRIMARY KEY (key, target_id)
) STRICT;
CREATE INDEX staged_live ON staged (target_id, sha256) WHERE deleted_at IS NULL;

-- Short cross-process locks with an expiry (one token refresher per account, whichever of the
-- app and a headless agent gets there first).
CREATE TABLE locks (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until INTEGER NOT NULL
) STRICT;
"#,
];
