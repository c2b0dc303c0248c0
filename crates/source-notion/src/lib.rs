//! The notion source.
