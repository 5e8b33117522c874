-- The one schema of result-aggregation-server, embedded in the binary (src/storage/schema.rs).
--
-- Table and column names follow the original 2016 server, in its column order, so an original
-- database migrates in place. What we add: real foreign keys with ON DELETE CASCADE (the
-- original's cascade lived only in its ORM), an attempt's time and a learner's latest attempt
-- (the pointer every "latest attempt" statistic joins on, instead of an IN list of ids), and
-- tallies of failures and learners that triggers keep exact, for the overview pages.
-- The version of this schema (2) is PRAGMA user_version; the binary migrates older files
-- forward (0: the original server's, 1: without the tallies).

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
    -- Added: the learner's newest attempt, kept by the writer and by the trigger below.
    latest_attempt_id    INTEGER
);

-- The original tied an attempt to its learner by the key string; the key is UNIQUE in
-- user_system_info, so it can be a real foreign key as it stands.
CREATE TABLE attempts (
    id             INTEGER PRIMARY KEY,
    unique_user_id TEXT    NOT NULL
                   REFERENCES user_system_info (unique_user_id) ON DELETE CASCADE ON UPDATE CASCADE,
    -- Added: when the attempt arrived (NULL for attempts migrated from the original).
    create_time    TEXT    DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE successful_installs (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    version     TEXT,
    user_id     INTEGER NOT NULL REFERENCES user_system_info (id) ON DELETE CASCADE,
    attempt_id  INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    create_time TEXT    DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE failed_installs (
    id                INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL,
    version           TEXT,
    error_description TEXT,
    user_id           INTEGER NOT NULL REFERENCES user_system_info (id) ON DELETE CASCADE,
    attempt_id        INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    create_time       TEXT    DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

-- Foreign-key children need an index each, or every cascade scans the whole table.
CREATE INDEX attempts_by_user ON attempts (unique_user_id);
CREATE INDEX successful_installs_by_user ON successful_installs (user_id);
CREATE INDEX successful_installs_by_attempt ON successful_installs (attempt_id);
CREATE INDEX failed_installs_by_user ON failed_installs (user_id);
CREATE INDEX failed_installs_by_attempt ON failed_installs (attempt_id);
-- Statistics: failures of one package, learners of one workshop.
CREATE INDEX failed_installs_by_package ON failed_installs (name, version);
CREATE INDEX user_system_info_by_workshop ON user_system_info (workshop_id);

-- Deleting an attempt by hand must not leave its learner pointing at it.
CREATE TRIGGER attempts_keep_latest AFTER DELETE ON attempts
BEGIN
    UPDATE user_system_info
       SET latest_attempt_id = (SELECT max(id) FROM attempts
                                 WHERE unique_user_id = OLD.unique_user_id)
     WHERE unique_user_id = OLD.unique_user_id AND latest_attempt_id = OLD.id;
END;

-- Tallies (schema version 2): the overview's counts, maintained by the triggers below on
-- every write, so /view/ reads a few thousand rows instead of every failure. Keys are
-- json_array(...) of the grouped columns, which tells NULL from '' where a UNIQUE column
-- could not. Rows are never deleted; a count that reaches zero stays as a zero.

CREATE TABLE failure_tally (
    k           TEXT    PRIMARY KEY, -- json_array(workshop_id, system, name, version)
    workshop_id TEXT,
    system      TEXT,
    name        TEXT    NOT NULL,
    version     TEXT,
    latest      INTEGER NOT NULL,    -- failures in learners' latest attempts
    every       INTEGER NOT NULL     -- failures in all attempts
) WITHOUT ROWID;

-- Covering, in the overview's GROUP BY order: the all-workshops lists need no sort.
CREATE INDEX failure_tally_by_package
    ON failure_tally (name, version, system, workshop_id, latest, every);

CREATE TABLE learner_tally (
    k           TEXT    PRIMARY KEY, -- json_array(workshop_id, system)
    workshop_id TEXT,
    system      TEXT,
    learners    INTEGER NOT NULL,
    passing     INTEGER NOT NULL     -- learners whose latest attempt reported no failure
) WITHOUT ROWID;

-- A learner arrives (their latest attempt is set by the update that follows).
CREATE TRIGGER user_tally_insert AFTER INSERT ON user_system_info
BEGIN
    INSERT INTO learner_tally (k, workshop_id, system, learners, passing)
    VALUES (json_array(NEW.workshop_id, NEW.system), NEW.workshop_id, NEW.system, 1,
            NEW.latest_attempt_id IS NOT NULL AND NOT EXISTS
                (SELECT 1 FROM failed_installs f WHERE f.attempt_id = NEW.latest_attempt_id))
    ON CONFLICT (k) DO UPDATE SET learners = learners + 1, passing = passing + excluded.passing;
END;

-- A new latest attempt, or a learner who moved workshop or system: take them out under
-- what they were and in under what they are.
CREATE TRIGGER user_tally_update
AFTER UPDATE OF latest_attempt_id, workshop_id, system ON user_system_info
WHEN OLD.latest_attempt_id IS NOT NEW.latest_attempt_id
  OR OLD.workshop_id IS NOT NEW.workshop_id OR OLD.system IS NOT NEW.system
BEGIN
    UPDATE learner_tally
       SET learners = learners - 1,
           passing = passing - (OLD.latest_attempt_id IS NOT NULL AND NOT EXISTS
               (SELECT 1 FROM failed_installs f WHERE f.attempt_id = OLD.latest_attempt_id))
     WHERE k = json_array(OLD.workshop_id, OLD.system);
    INSERT INTO learner_tally (k, workshop_id, system, learners, passing)
    VALUES (json_array(NEW.workshop_id, NEW.system), NEW.workshop_id, NEW.system, 1,
            NEW.latest_attempt_id IS NOT NULL AND NOT EXISTS
                (SELECT 1 FROM failed_installs f WHERE f.attempt_id = NEW.latest_attempt_id))
    ON CONFLICT (k) DO UPDATE SET learners = learners + 1, passing = passing + excluded.passing;
    -- The old latest attempt's failures stop counting as latest, the new one's start (a
    -- brand-new attempt has none yet: its failures are counted as they are inserted).
    INSERT INTO failure_tally (k, workshop_id, system, name, version, latest, every)
    SELECT json_array(OLD.workshop_id, OLD.system, name, version), OLD.workshop_id, OLD.system,
           name, version, -count(*), 0
      FROM failed_installs WHERE attempt_id = OLD.latest_attempt_id GROUP BY name, version
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest;
    INSERT INTO failure_tally (k, workshop_id, system, name, version, latest, every)
    SELECT json_array(NEW.workshop_id, NEW.system, name, version), NEW.workshop_id, NEW.system,
           name, version, count(*), 0
      FROM failed_installs WHERE attempt_id = NEW.latest_attempt_id GROUP BY name, version
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest;
    -- Every attempt's failures move only with the learner's workshop or system.
    INSERT INTO failure_tally (k, workshop_id, system, name, version, latest, every)
    SELECT json_array(OLD.workshop_id, OLD.system, name, version), OLD.workshop_id, OLD.system,
           name, version, 0, -count(*)
      FROM failed_installs
     WHERE user_id = OLD.id
       AND (OLD.workshop_id IS NOT NEW.workshop_id OR OLD.system IS NOT NEW.system)
     GROUP BY name, version
    ON CONFLICT (k) DO UPDATE SET every = every + excluded.every;
    INSERT INTO failure_tally (k, workshop_id, system, name, version, latest, every)
    SELECT json_array(NEW.workshop_id, NEW.system, name, version), NEW.workshop_id, NEW.system,
           name, version, 0, count(*)
      FROM failed_installs
     WHERE user_id = NEW.id
       AND (OLD.workshop_id IS NOT NEW.workshop_id OR OLD.system IS NOT NEW.system)
     GROUP BY name, version
    ON CONFLICT (k) DO UPDATE SET every = every + excluded.every;
END;

-- A learner leaves: everything they counted goes with them, before the cascade removes
-- their rows (whose own trigger below then finds no learner and does nothing).
CREATE TRIGGER user_tally_delete BEFORE DELETE ON user_system_info
BEGIN
    UPDATE learner_tally
       SET learners = learners - 1,
           passing = passing - (OLD.latest_attempt_id IS NOT NULL AND NOT EXISTS
               (SELECT 1 FROM failed_installs f WHERE f.attempt_id = OLD.latest_attempt_id))
     WHERE k = json_array(OLD.workshop_id, OLD.system);
    INSERT INTO failure_tally (k, workshop_id, system, name, version, latest, every)
    SELECT json_array(OLD.workshop_id, OLD.system, name, version), OLD.workshop_id, OLD.system,
           name, version, -sum(attempt_id IS OLD.latest_attempt_id), -count(*)
      FROM failed_installs WHERE user_id = OLD.id GROUP BY name, version
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
END;

CREATE TRIGGER failed_installs_tally_insert AFTER INSERT ON failed_installs
BEGIN
    INSERT INTO failure_tally (k, workshop_id, system, name, version, latest, every)
    SELECT json_array(u.workshop_id, u.system, NEW.name, NEW.version), u.workshop_id, u.system,
           NEW.name, NEW.version, NEW.attempt_id IS u.latest_attempt_id, 1
      FROM user_system_info u WHERE u.id = NEW.user_id
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
    -- The first failure of a learner's latest attempt: they no longer pass.
    UPDATE learner_tally SET passing = passing - 1
     WHERE k = (SELECT json_array(u.workshop_id, u.system) FROM user_system_info u
                 WHERE u.id = NEW.user_id AND u.latest_attempt_id IS NEW.attempt_id)
       AND NOT EXISTS (SELECT 1 FROM failed_installs f
                        WHERE f.attempt_id = NEW.attempt_id AND f.id <> NEW.id);
END;

CREATE TRIGGER failed_installs_tally_delete AFTER DELETE ON failed_installs
BEGIN
    UPDATE failure_tally
       SET every = every - 1,
           latest = latest - (SELECT OLD.attempt_id IS u.latest_attempt_id
                                FROM user_system_info u WHERE u.id = OLD.user_id)
     WHERE k = (SELECT json_array(u.workshop_id, u.system, OLD.name, OLD.version)
                  FROM user_system_info u WHERE u.id = OLD.user_id);
    -- The last failure of a learner's latest attempt: they pass now.
    UPDATE learner_tally SET passing = passing + 1
     WHERE k = (SELECT json_array(u.workshop_id, u.system) FROM user_system_info u
                 WHERE u.id = OLD.user_id AND u.latest_attempt_id IS OLD.attempt_id)
       AND NOT EXISTS (SELECT 1 FROM failed_installs f WHERE f.attempt_id = OLD.attempt_id);
END;

-- Each failure unpivoted into the fields the package detail breaks it down by, under its
-- learner's current system information; `failures` counts them all.
CREATE VIEW failure_features AS
    SELECT f.id AS failure_id, f.attempt_id, f.user_id, u.workshop_id, f.name, f.version,
           f.attempt_id IS u.latest_attempt_id AS latest, d.dim,
           CASE d.dim
               WHEN 'failures' THEN 'all'
               WHEN 'distribution_name' THEN u.distribution_name
               WHEN 'distribution_version' THEN u.distribution_version
               WHEN 'distribution_name_version' THEN
                   CASE WHEN u.distribution_name <> '' AND u.distribution_version <> ''
                        THEN u.distribution_name || ' ' || u.distribution_version END
               WHEN 'system' THEN u.system
               WHEN 'system_version' THEN u.system_version
               WHEN 'system_platform' THEN u.system_platform
               WHEN 'machine' THEN u.machine
               WHEN 'python_version' THEN u.python_version
               WHEN 'day' THEN substr(f.create_time, 1, 10)
               WHEN 'error_description' THEN f.error_description
           END AS value
      FROM failed_installs f
      JOIN user_system_info u ON u.id = f.user_id
      CROSS JOIN (SELECT 'failures' AS dim UNION ALL SELECT 'distribution_name'
                  UNION ALL SELECT 'distribution_version' UNION ALL SELECT 'distribution_name_version'
                  UNION ALL SELECT 'system' UNION ALL SELECT 'system_version'
                  UNION ALL SELECT 'system_platform' UNION ALL SELECT 'machine'
                  UNION ALL SELECT 'python_version' UNION ALL SELECT 'day'
                  UNION ALL SELECT 'error_description') d;

-- Failures of each package per workshop, field and value: the package detail's counts.
CREATE TABLE detail_tally (
    k           TEXT    PRIMARY KEY, -- json_array(workshop_id, name, version, dim, value)
    workshop_id TEXT,
    name        TEXT    NOT NULL,
    version     TEXT,
    dim         TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    latest      INTEGER NOT NULL,
    every       INTEGER NOT NULL
) WITHOUT ROWID;
-- Covering: a package's rows for one field are read from the index alone.
CREATE INDEX detail_tally_by_package
    ON detail_tally (name, dim, workshop_id, version, value, latest, every);

-- Failures per package, version and day over all workshops: the one field with hundreds of
-- values, which detail_tally splits further by workshop. Kept by the same triggers.
CREATE TABLE day_tally (
    k       TEXT    PRIMARY KEY, -- json_array(name, version, day)
    name    TEXT    NOT NULL,
    version TEXT,
    day     TEXT    NOT NULL,
    latest  INTEGER NOT NULL,
    every   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX day_tally_by_package ON day_tally (name, version, day, latest, every);

CREATE TRIGGER failed_installs_detail_insert AFTER INSERT ON failed_installs
BEGIN
    INSERT INTO detail_tally (k, workshop_id, name, version, dim, value, latest, every)
    SELECT json_array(workshop_id, name, version, dim, value), workshop_id, name, version, dim,
           value, latest, 1
      FROM failure_features WHERE failure_id = NEW.id AND value <> ''
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
    INSERT INTO day_tally (k, name, version, day, latest, every)
    SELECT json_array(name, version, value), name, version, value, latest, 1
      FROM failure_features WHERE failure_id = NEW.id AND value <> '' AND dim = 'day'
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
END;

-- Before the row goes, while its learner can still be read (after a learner's own deletion
-- the join finds nobody: user_detail_delete has already taken their counts out).
CREATE TRIGGER failed_installs_detail_delete BEFORE DELETE ON failed_installs
BEGIN
    INSERT INTO detail_tally (k, workshop_id, name, version, dim, value, latest, every)
    SELECT json_array(workshop_id, name, version, dim, value), workshop_id, name, version, dim,
           value, -latest, -1
      FROM failure_features WHERE failure_id = OLD.id AND value <> ''
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
    INSERT INTO day_tally (k, name, version, day, latest, every)
    SELECT json_array(name, version, value), name, version, value, -latest, -1
      FROM failure_features WHERE failure_id = OLD.id AND value <> '' AND dim = 'day'
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
END;

CREATE TRIGGER user_detail_delete BEFORE DELETE ON user_system_info
BEGIN
    INSERT INTO detail_tally (k, workshop_id, name, version, dim, value, latest, every)
    SELECT json_array(workshop_id, name, version, dim, value), workshop_id, name, version, dim,
           value, -sum(latest), -count(*)
      FROM failure_features WHERE user_id = OLD.id AND value <> '' GROUP BY 1
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
    INSERT INTO day_tally (k, name, version, day, latest, every)
    SELECT json_array(name, version, value), name, version, value, -sum(latest), -count(*)
      FROM failure_features WHERE user_id = OLD.id AND value <> '' AND dim = 'day' GROUP BY 1
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
END;

-- A learner's new latest attempt or changed system information: their counts come out
-- under the old row (before) and go back in under the new one (after). Only the latest
-- attempt's failures move, unless a field the detail shows has changed: then all of them.
CREATE TRIGGER user_detail_update_out BEFORE UPDATE ON user_system_info
WHEN OLD.latest_attempt_id IS NOT NEW.latest_attempt_id OR OLD.workshop_id IS NOT NEW.workshop_id
  OR OLD.system IS NOT NEW.system OR OLD.system_version IS NOT NEW.system_version
  OR OLD.system_platform IS NOT NEW.system_platform OR OLD.machine IS NOT NEW.machine
  OR OLD.python_version IS NOT NEW.python_version
  OR OLD.distribution_name IS NOT NEW.distribution_name
  OR OLD.distribution_version IS NOT NEW.distribution_version
BEGIN
    -- Same fields: only the old latest attempt's failures stop counting as latest.
    INSERT INTO detail_tally (k, workshop_id, name, version, dim, value, latest, every)
    SELECT json_array(workshop_id, name, version, dim, value), workshop_id, name, version, dim,
           value, -count(*), 0
      FROM failure_features
     WHERE attempt_id = OLD.latest_attempt_id AND value <> '' AND NOT (OLD.workshop_id IS NOT NEW.workshop_id OR OLD.system IS NOT NEW.system
           OR OLD.system_version IS NOT NEW.system_version
           OR OLD.system_platform IS NOT NEW.system_platform OR OLD.machine IS NOT NEW.machine
           OR OLD.python_version IS NOT NEW.python_version
           OR OLD.distribution_name IS NOT NEW.distribution_name
           OR OLD.distribution_version IS NOT NEW.distribution_version)
     GROUP BY 1
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest;
    INSERT INTO day_tally (k, name, version, day, latest, every)
    SELECT json_array(name, version, value), name, version, value, -count(*), 0
      FROM failure_features
     WHERE attempt_id = OLD.latest_attempt_id AND value <> '' AND dim = 'day' AND NOT (OLD.workshop_id IS NOT NEW.workshop_id OR OLD.system IS NOT NEW.system
           OR OLD.system_version IS NOT NEW.system_version
           OR OLD.system_platform IS NOT NEW.system_platform OR OLD.machine IS NOT NEW.machine
           OR OLD.python_version IS NOT NEW.python_version
           OR OLD.distribution_name IS NOT NEW.distribution_name
           OR OLD.distribution_version IS NOT NEW.distribution_version)
     GROUP BY 1
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest;
    -- Changed fields: all of the learner's failures leave the old values.
    INSERT INTO detail_tally (k, workshop_id, name, version, dim, value, latest, every)
    SELECT json_array(workshop_id, name, version, dim, value), workshop_id, name, version, dim,
           value, -sum(latest), -count(*)
      FROM failure_features
     WHERE user_id = OLD.id AND value <> '' AND (OLD.workshop_id IS NOT NEW.workshop_id OR OLD.system IS NOT NEW.system
           OR OLD.system_version IS NOT NEW.system_version
           OR OLD.system_platform IS NOT NEW.system_platform OR OLD.machine IS NOT NEW.machine
           OR OLD.python_version IS NOT NEW.python_version
           OR OLD.distribution_name IS NOT NEW.distribution_name
           OR OLD.distribution_version IS NOT NEW.distribution_version)
     GROUP BY 1
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
    INSERT INTO day_tally (k, name, version, day, latest, every)
    SELECT json_array(name, version, value), name, version, value, -sum(latest), -count(*)
      FROM failure_features
     WHERE user_id = OLD.id AND value <> '' AND dim = 'day' AND (OLD.workshop_id IS NOT NEW.workshop_id OR OLD.system IS NOT NEW.system
           OR OLD.system_version IS NOT NEW.system_version
           OR OLD.system_platform IS NOT NEW.system_platform OR OLD.machine IS NOT NEW.machine
           OR OLD.python_version IS NOT NEW.python_version
           OR OLD.distribution_name IS NOT NEW.distribution_name
           OR OLD.distribution_version IS NOT NEW.distribution_version)
     GROUP BY 1
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
END;

CREATE TRIGGER user_detail_update_in AFTER UPDATE ON user_system_info
WHEN OLD.latest_attempt_id IS NOT NEW.latest_attempt_id OR OLD.workshop_id IS NOT NEW.workshop_id
  OR OLD.system IS NOT NEW.system OR OLD.system_version IS NOT NEW.system_version
  OR OLD.system_platform IS NOT NEW.system_platform OR OLD.machine IS NOT NEW.machine
  OR OLD.python_version IS NOT NEW.python_version
  OR OLD.distribution_name IS NOT NEW.distribution_name
  OR OLD.distribution_version IS NOT NEW.distribution_version
BEGIN
    -- (A brand-new latest attempt has no failures yet: they count as they are inserted.)
    INSERT INTO detail_tally (k, workshop_id, name, version, dim, value, latest, every)
    SELECT json_array(workshop_id, name, version, dim, value), workshop_id, name, version, dim,
           value, count(*), 0
      FROM failure_features
     WHERE attempt_id = NEW.latest_attempt_id AND value <> '' AND NOT (OLD.workshop_id IS NOT NEW.workshop_id OR OLD.system IS NOT NEW.system
           OR OLD.system_version IS NOT NEW.system_version
           OR OLD.system_platform IS NOT NEW.system_platform OR OLD.machine IS NOT NEW.machine
           OR OLD.python_version IS NOT NEW.python_version
           OR OLD.distribution_name IS NOT NEW.distribution_name
           OR OLD.distribution_version IS NOT NEW.distribution_version)
     GROUP BY 1
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest;
    INSERT INTO day_tally (k, name, version, day, latest, every)
    SELECT json_array(name, version, value), name, version, value, count(*), 0
      FROM failure_features
     WHERE attempt_id = NEW.latest_attempt_id AND value <> '' AND dim = 'day' AND NOT (OLD.workshop_id IS NOT NEW.workshop_id OR OLD.system IS NOT NEW.system
           OR OLD.system_version IS NOT NEW.system_version
           OR OLD.system_platform IS NOT NEW.system_platform OR OLD.machine IS NOT NEW.machine
           OR OLD.python_version IS NOT NEW.python_version
           OR OLD.distribution_name IS NOT NEW.distribution_name
           OR OLD.distribution_version IS NOT NEW.distribution_version)
     GROUP BY 1
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest;
    INSERT INTO detail_tally (k, workshop_id, name, version, dim, value, latest, every)
    SELECT json_array(workshop_id, name, version, dim, value), workshop_id, name, version, dim,
           value, sum(latest), count(*)
      FROM failure_features
     WHERE user_id = NEW.id AND value <> '' AND (OLD.workshop_id IS NOT NEW.workshop_id OR OLD.system IS NOT NEW.system
           OR OLD.system_version IS NOT NEW.system_version
           OR OLD.system_platform IS NOT NEW.system_platform OR OLD.machine IS NOT NEW.machine
           OR OLD.python_version IS NOT NEW.python_version
           OR OLD.distribution_name IS NOT NEW.distribution_name
           OR OLD.distribution_version IS NOT NEW.distribution_version)
     GROUP BY 1
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
    INSERT INTO day_tally (k, name, version, day, latest, every)
    SELECT json_array(name, version, value), name, version, value, sum(latest), count(*)
      FROM failure_features
     WHERE user_id = NEW.id AND value <> '' AND dim = 'day' AND (OLD.workshop_id IS NOT NEW.workshop_id OR OLD.system IS NOT NEW.system
           OR OLD.system_version IS NOT NEW.system_version
           OR OLD.system_platform IS NOT NEW.system_platform OR OLD.machine IS NOT NEW.machine
           OR OLD.python_version IS NOT NEW.python_version
           OR OLD.distribution_name IS NOT NEW.distribution_name
           OR OLD.distribution_version IS NOT NEW.distribution_version)
     GROUP BY 1
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
END;

-- A failure edited by hand counts as the old row gone and the new one come.
CREATE TRIGGER failed_installs_tally_update_out BEFORE UPDATE ON failed_installs
BEGIN
    UPDATE failure_tally
       SET every = every - 1,
           latest = latest - (SELECT OLD.attempt_id IS u.latest_attempt_id
                                FROM user_system_info u WHERE u.id = OLD.user_id)
     WHERE k = (SELECT json_array(u.workshop_id, u.system, OLD.name, OLD.version)
                  FROM user_system_info u WHERE u.id = OLD.user_id);
    INSERT INTO detail_tally (k, workshop_id, name, version, dim, value, latest, every)
    SELECT json_array(workshop_id, name, version, dim, value), workshop_id, name, version, dim,
           value, -latest, -1
      FROM failure_features WHERE failure_id = OLD.id AND value <> ''
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
    INSERT INTO day_tally (k, name, version, day, latest, every)
    SELECT json_array(name, version, value), name, version, value, -latest, -1
      FROM failure_features WHERE failure_id = OLD.id AND value <> '' AND dim = 'day'
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
    UPDATE learner_tally SET passing = passing + 1
     WHERE k = (SELECT json_array(u.workshop_id, u.system) FROM user_system_info u
                 WHERE u.id = OLD.user_id AND u.latest_attempt_id IS OLD.attempt_id)
       AND NOT EXISTS (SELECT 1 FROM failed_installs f
                        WHERE f.attempt_id = OLD.attempt_id AND f.id <> OLD.id);
END;

CREATE TRIGGER failed_installs_tally_update_in AFTER UPDATE ON failed_installs
BEGIN
    INSERT INTO failure_tally (k, workshop_id, system, name, version, latest, every)
    SELECT json_array(u.workshop_id, u.system, NEW.name, NEW.version), u.workshop_id, u.system,
           NEW.name, NEW.version, NEW.attempt_id IS u.latest_attempt_id, 1
      FROM user_system_info u WHERE u.id = NEW.user_id
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
    INSERT INTO detail_tally (k, workshop_id, name, version, dim, value, latest, every)
    SELECT json_array(workshop_id, name, version, dim, value), workshop_id, name, version, dim,
           value, latest, 1
      FROM failure_features WHERE failure_id = NEW.id AND value <> ''
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
    INSERT INTO day_tally (k, name, version, day, latest, every)
    SELECT json_array(name, version, value), name, version, value, latest, 1
      FROM failure_features WHERE failure_id = NEW.id AND value <> '' AND dim = 'day'
    ON CONFLICT (k) DO UPDATE SET latest = latest + excluded.latest, every = every + excluded.every;
    UPDATE learner_tally SET passing = passing - 1
     WHERE k = (SELECT json_array(u.workshop_id, u.system) FROM user_system_info u
                 WHERE u.id = NEW.user_id AND u.latest_attempt_id IS NEW.attempt_id)
       AND NOT EXISTS (SELECT 1 FROM failed_installs f
                        WHERE f.attempt_id = NEW.attempt_id AND f.id <> NEW.id);
END;
