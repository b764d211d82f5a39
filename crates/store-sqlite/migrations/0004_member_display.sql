-- The display name a client sent with a member, echoed back instead of the member's own name.
ALTER TABLE members ADD COLUMN display TEXT;
