-- Client assertions (JWTs exchanged at the token endpoint) already used, by issuer and jti, kept
-- until they expire so that a replay is refused, whichever process sees it. Times are
-- milliseconds since the Unix epoch.
CREATE TABLE used_assertions (
    issuer     TEXT COLLATE "C" NOT NULL,
    jti        TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);

CREATE INDEX used_assertions_expiry ON used_assertions (expires_at);
