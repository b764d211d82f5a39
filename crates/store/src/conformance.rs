//! The storage conformance suite: behaviour every backend must show, run by each backend's tests.
