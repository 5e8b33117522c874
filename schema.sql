-- The one schema of result-aggregation-server (version 4, PRAGMA user_version), embedded in the
-- binary. Older files, the original 2016 server's included, are migrated forward on opening.
--
-- Three parts. Raw rows: what learners sent, each value stored once (names, versions, error
-- texts, machines and workshops are interned in small dictionaries), with real foreign keys
-- that cascade. The original's tables (user_system_info, attempts, successful_installs,
-- failed_installs) keep their names and columns for admins' own SQL: the first is a table,
-- the other three are views over the raw rows. Tallies: the counts every statistic reads,
-- kept exact by the writer, which adds each batch's changes with one upsert per key
-- (src/storage/tally.rs); `rebuild-tallies` recomputes them from the raw rows after hand edits.
-- Among them, each dictionary value's uses: a value nobody uses any more is deleted.

-- A learner, with the system they reported last (fields a report leaves out keep their values).
CREATE TABLE user_system_info (
    id                   INTEGER PRIMARY KEY,
    unique_user_id       TEXT    NOT NULL UNIQUE,
    distribution_name    TEXT,
    distribution_version TEXT,
    system_version       TEXT,
    system               TEXT,
    machine              TEXT,
    system_platform      TEXT,
    python_version       TEXT,
    workshop_id          TEXT,
    email_id             TEXT,
    create_time          TEXT    DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    -- Added: the learner's newest attempt, and the machine fields above as a profile.
    latest_attempt_id    INTEGER,
    profile_id           INTEGER REFERENCES system_profiles (id)
);
CREATE INDEX user_system_info_by_workshop ON user_system_info (workshop_id);

-- Dictionaries: each distinct value once, referred to by id. A value no attempt uses any more
-- (its learners were deleted) is deleted too, so that nothing a forgotten learner sent stays
-- (see dictionary_uses below).
CREATE TABLE packages (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL,
    version TEXT
);
CREATE INDEX packages_by_name ON packages (name, version);

-- A check's name, all versions together (what "what fixed it" counts learners by).
CREATE TABLE check_names (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

-- An error text is looked up by a 64-bit hash (the first bytes of its SHA-256; equal hashes
-- are compared by text), so the index holds 8 bytes a text rather than the text again: a text
-- of 1,000 characters in the index alone cost an overflow page.
CREATE TABLE error_texts (
    id   INTEGER PRIMARY KEY,
    hash INTEGER NOT NULL,
    text TEXT    NOT NULL
);
CREATE INDEX error_texts_by_hash ON error_texts (hash);

-- The machine a report came from. `fingerprint` is a 64-bit hash of the seven fields, so the
-- lookup index stays small whatever a client sends; equal fingerprints are compared field by
-- field before a profile is reused.
CREATE TABLE system_profiles (
    id                   INTEGER PRIMARY KEY,
    fingerprint          INTEGER NOT NULL,
    distribution_name    TEXT,
    distribution_version TEXT,
    system               TEXT,
    system_version       TEXT,
    machine              TEXT,
    system_platform      TEXT,
    python_version       TEXT
);
CREATE INDEX system_profiles_by_fingerprint ON system_profiles (fingerprint);

CREATE TABLE workshops (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

-- A workshop its host registered (`workshop create`): its own checks and the private link's
-- secret, kept only as its SHA-256 (the link itself is shown once, when it is made).
-- Deleting the registration leaves the interned name, which older attempts may refer to.
CREATE TABLE hosted_workshops (
    workshop_id  INTEGER PRIMARY KEY REFERENCES workshops (id) ON DELETE CASCADE,
    title        TEXT,
    -- The check list (`git>=2.30,numpy,make?`); NULL: the server's --checks.
    checks       TEXT,
    secret_hash  BLOB    NOT NULL,
    created_time TEXT    NOT NULL,
    -- When the current link was made (creation, or the last `workshop revoke`).
    link_time    TEXT    NOT NULL,
    -- The IANA zone of the host page's days and times (`workshop create --time-zone`);
    -- NULL: UTC.
    time_zone    TEXT
);

-- One attempt: when, from which machine, for which workshop (both as they were then, so a
-- learner's later change of system never rewrites history), and what passed, as a JSON array
-- of package ids (successes are only ever counted, so they need no row each).
CREATE TABLE submissions (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES user_system_info (id) ON DELETE CASCADE,
    create_time TEXT,
    profile_id  INTEGER NOT NULL REFERENCES system_profiles (id),
    workshop    INTEGER REFERENCES workshops (id),
    successes   TEXT    NOT NULL DEFAULT '[]'
);
CREATE INDEX submissions_by_user ON submissions (user_id);

-- What failed in an attempt, in the order the script listed it.
CREATE TABLE submission_failures (
    submission_id INTEGER NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    package_id    INTEGER NOT NULL REFERENCES packages (id),
    error_id      INTEGER REFERENCES error_texts (id),
    PRIMARY KEY (submission_id, position)
) WITHOUT ROWID;

-- The original's tables, as views. Row ids of packages are the attempt's id x 1000 plus the
-- package's position in its list (a list holds at most 500). `attempts` gains the attempt's
-- time, learner, workshop and machine fields.
CREATE VIEW attempts AS
    SELECT s.id, u.unique_user_id, s.create_time, s.user_id, w.name AS workshop_id,
           p.distribution_name, p.distribution_version, p.system_version, p.system, p.machine,
           p.system_platform, p.python_version
      FROM submissions s
      JOIN user_system_info u ON u.id = s.user_id
      JOIN system_profiles p ON p.id = s.profile_id
      LEFT JOIN workshops w ON w.id = s.workshop;

CREATE VIEW successful_installs AS
    SELECT s.id * 1000 + j.key AS id, p.name, p.version, s.user_id, s.id AS attempt_id,
           s.create_time
      FROM submissions s, json_each(s.successes) j
      JOIN packages p ON p.id = j.value;

CREATE VIEW failed_installs AS
    SELECT s.id * 1000 + f.position AS id, p.name, p.version, e.text AS error_description,
           s.user_id, s.id AS attempt_id, s.create_time
      FROM submission_failures f
      JOIN submissions s ON s.id = f.submission_id
      JOIN packages p ON p.id = f.package_id
      LEFT JOIN error_texts e ON e.id = f.error_id;

-- Tallies. `workshop` is a workshops.id, 0 for "no workshop named" and -1 for all workshops
-- together (so the overall view reads as few rows as one workshop's). Each failure counts
-- under its own attempt's workshop and machine; `latest` counts failures in learners' latest
-- attempts, `every` in all attempts. A row whose counts reach zero is deleted. The counters
-- are plain columns of a WITHOUT ROWID table keyed in read order, not part of any index.
CREATE TABLE failure_tally (
    workshop   INTEGER NOT NULL,
    package_id INTEGER NOT NULL,
    profile_id INTEGER NOT NULL,
    latest     INTEGER NOT NULL,
    every      INTEGER NOT NULL,
    PRIMARY KEY (workshop, package_id, profile_id)
) WITHOUT ROWID;

-- Failures per day: the attempt's day, as days since 1970-01-01 (-1 when unknown), which
-- is julianday(substr(create_time, 1, 10)) - 2440587.5.
CREATE TABLE failure_day_tally (
    workshop   INTEGER NOT NULL,
    package_id INTEGER NOT NULL,
    day        INTEGER NOT NULL,
    latest     INTEGER NOT NULL,
    every      INTEGER NOT NULL,
    PRIMARY KEY (workshop, package_id, day)
) WITHOUT ROWID;

-- Failures per error text (0: none given).
CREATE TABLE failure_error_tally (
    workshop   INTEGER NOT NULL,
    package_id INTEGER NOT NULL,
    error_id   INTEGER NOT NULL,
    latest     INTEGER NOT NULL,
    every      INTEGER NOT NULL,
    PRIMARY KEY (workshop, package_id, error_id)
) WITHOUT ROWID;

-- Learners by their current workshop and machine; `passing`: their latest attempt reported
-- no failure.
CREATE TABLE learner_tally (
    workshop   INTEGER NOT NULL,
    profile_id INTEGER NOT NULL,
    learners   INTEGER NOT NULL,
    passing    INTEGER NOT NULL,
    PRIMARY KEY (workshop, profile_id)
) WITHOUT ROWID;

-- The same per workshop only (no -1 row): the workshop list reads one row per workshop.
CREATE TABLE workshop_tally (
    workshop INTEGER NOT NULL PRIMARY KEY,
    learners INTEGER NOT NULL,
    passing  INTEGER NOT NULL
) WITHOUT ROWID;

-- What fixed it. One row per learner and check they ever failed: where the problem began
-- (their first attempt that failed it: when, in which workshop, on which machine), whether a
-- later attempt passed it (the first one: how many seconds later, with which package
-- version), and whether their latest attempt still fails it (stuck). Kept by the writer with
-- each attempt, like the tallies, and rebuilt with them.
CREATE TABLE learner_checks (
    user_id          INTEGER NOT NULL REFERENCES user_system_info (id) ON DELETE CASCADE,
    name_id          INTEGER NOT NULL REFERENCES check_names (id),
    failed_time      INTEGER,             -- seconds since 1970; NULL when unknown
    workshop         INTEGER NOT NULL,    -- as in the tallies: 0 for none
    profile_id       INTEGER NOT NULL,
    fixed_package_id INTEGER,             -- the package (version) that passed; NULL: not fixed
    seconds_to_fix   INTEGER,             -- NULL when not fixed or a time is unknown
    stuck            INTEGER NOT NULL,    -- 1: the learner's latest attempt fails it
    PRIMARY KEY (user_id, name_id)
) WITHOUT ROWID;
-- The times to fix in order, for exact medians and 90th percentiles (see fix_time_tally).
CREATE INDEX learner_checks_by_time ON learner_checks (name_id, seconds_to_fix)
    WHERE seconds_to_fix IS NOT NULL;
CREATE INDEX learner_checks_by_workshop_time ON learner_checks (workshop, name_id, seconds_to_fix)
    WHERE seconds_to_fix IS NOT NULL;

-- Learners per check, workshop (-1: all) and machine where they first failed it.
CREATE TABLE fix_tally (
    workshop   INTEGER NOT NULL,
    name_id    INTEGER NOT NULL,
    profile_id INTEGER NOT NULL,
    failed     INTEGER NOT NULL,
    fixed      INTEGER NOT NULL,
    stuck      INTEGER NOT NULL,
    PRIMARY KEY (workshop, name_id, profile_id)
) WITHOUT ROWID;

-- Fixes per check by time to fix in buckets of about 3% (src/storage/fixes.rs), for all
-- workshops together only (workshop -1): a percentile over hundreds of thousands of fixes is
-- found by summing a few hundred counts and then walking one bucket's times. One workshop's
-- few fixes are walked in order directly.
CREATE TABLE fix_time_tally (
    workshop INTEGER NOT NULL,
    name_id  INTEGER NOT NULL,
    bucket   INTEGER NOT NULL,
    fixes    INTEGER NOT NULL,
    PRIMARY KEY (workshop, name_id, bucket)
) WITHOUT ROWID;

-- Fixes per check by the package (version) that passed.
CREATE TABLE fix_version_tally (
    workshop   INTEGER NOT NULL,
    name_id    INTEGER NOT NULL,
    package_id INTEGER NOT NULL,
    fixes      INTEGER NOT NULL,
    PRIMARY KEY (workshop, name_id, package_id)
) WITHOUT ROWID;

-- How many times the raw rows refer to each dictionary value: `kind` 1 for packages (each
-- entry of an attempt's successes, each failure), 2 for error texts (each failure), 3 for
-- machine profiles (each attempt). Kept by the writer like the tallies; a row that reaches
-- zero is deleted and its value queued in dictionary_unused, which the store empties right
-- after the transaction (src/storage/dictionary.rs): the value is deleted, unless it is in
-- use again or (a profile) still a learner's current machine.
CREATE TABLE dictionary_uses (
    kind INTEGER NOT NULL,
    id   INTEGER NOT NULL,
    uses INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;

CREATE TABLE dictionary_unused (
    kind INTEGER NOT NULL,
    id   INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;

-- One row, counted up whenever dictionary values are deleted: each writer (in this or
-- another process) keeps recent ids in memory, and forgets them when this changes.
CREATE TABLE dictionary_generation (
    generation INTEGER NOT NULL
);
INSERT INTO dictionary_generation (generation) VALUES (0);
