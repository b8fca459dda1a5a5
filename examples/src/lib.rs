//! Examples live in this package as binaries.
