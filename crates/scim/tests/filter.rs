//! Tests of the filter language (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): parsing,
//! printing, errors, evaluation and validation, each as a table of cases.

mod filter {
    pub mod errors;
    pub mod eval;
    pub mod hostile;
    pub mod parse;
    pub mod patch_path;
    pub mod props;
    pub mod support;
    pub mod validate;
}
