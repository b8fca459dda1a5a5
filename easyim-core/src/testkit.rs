//! The storage conformance kit (being written).
