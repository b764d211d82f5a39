-- When a target's current cycle started (its rate and time left are measured from it).
ALTER TABLE target_runs ADD COLUMN cycle_started_at BIGINT NOT NULL DEFAULT 0;
