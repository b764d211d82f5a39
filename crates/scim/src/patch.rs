//! PATCH (RFC 7644 §3.5.2): parsing a PatchOp message and applying it atomically to a resource, with the list of what changed.
