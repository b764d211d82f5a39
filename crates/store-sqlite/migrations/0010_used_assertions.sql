-- Client assertions (JWTs exchanged at the token endpoint) already used, by issuer and jti, kept
-- until they expire so that a replay is refused. Times are milliseconds since the Unix epoch.
CREATE TABLE used_assertions (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
) WITHOUT ROWID;

CREATE INDEX used_assertions_expiry ON used_assertions (expires_at);
