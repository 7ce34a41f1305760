//! (checks: being written)
