//! The protocol messages (RFC 7644 §3.4.2, §3.4.3, §3.7, §3.12): ListResponse, SearchRequest, BulkRequest, BulkResponse and the Error body.
