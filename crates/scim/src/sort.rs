//! Sorting (RFC 7644 §3.4.2.3): a comparator for sortBy and sortOrder over resources.
