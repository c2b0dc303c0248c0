//! The gdocs source.
