//! Benchmarks and the load generator.
