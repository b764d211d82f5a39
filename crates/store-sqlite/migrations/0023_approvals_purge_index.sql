-- The hourly purge of decided approvals (`purge_approvals`) seeks the sent and superseded ones
-- past the retention by this index, instead of scanning every approval once a slice.
CREATE INDEX target_approvals_done ON target_approvals (created_at)
    WHERE state IN ('sent', 'superseded');
