//! The rocketchat collector (being written).

use super::{CollectorSink, Context, Outcome};

/// Collects rocketchat data into the bundle.
pub async fn collect(_ctx: &Context, _out: &CollectorSink) -> Outcome {
    Outcome::skipped("not implemented yet")
}
