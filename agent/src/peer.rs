//! The former home of the Docker reply budget, kept so callers that still name
//! `peer::set_reply_max` / `peer::REPLY_MAX_RANGE` build: everything lives in
//! [`crate::clients`] now ([`crate::clients::budget`], [`crate::clients::docker`]).

pub use crate::clients::budget::{
    Capped, DEFAULT_REPLY_MAX, LOG_LINE_MAX, REPLY_MAX_RANGE, ReplyBudget, reply_max,
    set_reply_max, too_large,
};
pub use crate::clients::docker::{Endpoint, LogDecoder, LogsRequest};
