//! MemoryStorage (being written).
