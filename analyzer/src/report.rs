//! (report: being written)
