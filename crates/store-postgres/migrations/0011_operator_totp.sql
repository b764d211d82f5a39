-- Two-step sign-in for operators (RFC 6238): the TOTP secret sealed with the server key (none
-- when the operator has not turned it on), and the last time step a code was accepted for, so
-- that a code is used once.
ALTER TABLE operators ADD COLUMN totp_sealed BYTEA;
ALTER TABLE operators ADD COLUMN totp_step BIGINT NOT NULL DEFAULT 0;
