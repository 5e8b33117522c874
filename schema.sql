-- The one schema of result-aggregation-server, embedded in the binary (src/storage/schema.rs).
--
-- Table and column names follow the original 2016 server, in its column order, so an original
-- database migrates in place. What we add: real foreign keys with ON DELETE CASCADE (the
-- original's cascade lived only in its ORM), an attempt's time and a learner's latest attempt
-- (the pointer every "latest attempt" statistic joins on, instead of an IN list of ids).
-- The version of this schema is PRAGMA user_version; the binary migrates older files forward.

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
