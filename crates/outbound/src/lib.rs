//! Outbound provisioning's rules, without I/O: Entra's expression language (`expr`), attribute
//! mappings (`mapping`), scoping filters (`scoping`), roles and entitlement rules (`rules`)
//! and the plan of actions that brings one object of a target in step with the directory
//! (`plan`). The engine that reads the
//! directory, calls targets and keeps state is built on these.

pub mod expr;
pub mod mapping;
pub mod plan;
pub mod rules;
pub mod scoping;
pub mod source;
