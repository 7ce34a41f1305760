//! The docker collector (being written).

use super::{CollectorSink, Context, Outcome};

/// Collects docker data into the bundle.
pub async fn collect(_ctx: &Context, _out: &CollectorSink) -> Outcome {
    Outcome::skipped("not implemented yet")
}

/// Lists the containers of the Docker endpoint once, for every collector that needs them.
pub async fn discover(_options: &super::Options) -> super::Discovery {
    Err("not implemented yet".to_string())
}
