//! (explore: being written)
