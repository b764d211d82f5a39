-- The version of `roster_scim::value::fold_case` that `resources.name_key` and
-- `emails.value_key` were folded with: 1 is the simple lowercase of the first releases. At
-- start-up a store whose keys are older than its build's fold folds them again and records
-- the new version here (`refold_keys` in src/lib.rs), in one transaction.
CREATE TABLE key_fold (version INTEGER NOT NULL);
INSERT INTO key_fold (version) VALUES (1);
