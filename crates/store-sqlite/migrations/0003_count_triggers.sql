-- The per-tenant counters follow inserts and deletes inside SQLite itself.
CREATE TRIGGER resources_count_insert AFTER INSERT ON resources BEGIN
    INSERT INTO resource_counts (tenant_id, kind, n) VALUES (NEW.tenant_id, NEW.kind, 1)
    ON CONFLICT (tenant_id, kind) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER resources_count_delete AFTER DELETE ON resources BEGIN
    UPDATE resource_counts SET n = n - 1 WHERE tenant_id = OLD.tenant_id AND kind = OLD.kind;
END;
