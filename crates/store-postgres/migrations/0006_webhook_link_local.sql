-- Whether an endpoint may be on a link-local or cloud-metadata address: the operator added it
-- with --allow-link-local, and deliveries must allow what the operator allowed.
ALTER TABLE webhooks ADD COLUMN allow_link_local BOOLEAN NOT NULL DEFAULT false;
