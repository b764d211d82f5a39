-- Per-tenant settings (provisioning on/off, groups on/off, compatibility mode, extra
-- attributes), as a JSON object the directory owns the shape of.
ALTER TABLE tenants ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
