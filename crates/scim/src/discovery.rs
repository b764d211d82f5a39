//! The discovery documents (RFC 7644 §4): /Schemas, /ResourceTypes and /ServiceProviderConfig, generated from the schema registry.
