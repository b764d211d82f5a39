//! Projection (RFC 7644 §3.9): attributes and excludedAttributes, honouring each attribute's returned characteristic.
