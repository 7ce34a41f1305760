//! (diff: being written)
