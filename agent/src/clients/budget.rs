//! Byte budgets for every place peer bytes come in, shared by the Docker client and the
//! future kube and CRI clients: a [`ReplyBudget`] per run bounds the replies being read
//! at a time (`--docker-reply-max`, default 64 MiB; past it the call fails as "reply too
//! large" and the collector records it), and [`Capped`] is the connection wrapper that
//! charges every byte read to it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Default most bytes of one Docker Engine reply (headers and body).
pub const DEFAULT_REPLY_MAX: u64 = 64 << 20;
/// Range of `--docker-reply-max`.
pub const REPLY_MAX_RANGE: (u64, u64) = (1 << 20, 1 << 30);
/// Most bytes of one log line (one frame) kept; the rest is read, discarded and noted.
pub const LOG_LINE_MAX: usize = 64 << 10;

fn clamp(bytes: u64) -> u64 {
    bytes.clamp(REPLY_MAX_RANGE.0, REPLY_MAX_RANGE.1)
}

/// The error of a reply over its cap; its text says what happened and what to do.
pub fn too_large(cap: u64) -> io::Error {
    io::Error::other(format!(
        "reply too large: the peer sent more than {} MiB, the most rcdiag reads of its replies \
         at a time (raise --docker-reply-max if the engine really holds that much)",
        cap >> 20
    ))
}

/// One run's budget of capped replies: the bytes of the replies being read right now,
/// across every connection, stay under `cap` together (the docker collector and the
/// shared discovery list the containers at the same time; two huge replies must not
/// cost twice). The bytes of a reply that went over stay counted for the rest of the
/// run: the memory they took may still be resident, so a second huge reply cannot add
/// to it.
#[derive(Debug)]
pub struct ReplyBudget {
    cap: u64,
    in_flight: AtomicU64,
}

impl ReplyBudget {
    /// A budget of `cap` bytes (clamped to [`REPLY_MAX_RANGE`]); `None`: the process
    /// default (`reply_max`).
    pub fn new(cap: Option<u64>) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.map(clamp).unwrap_or(DEFAULT_REPLY_MAX),
            in_flight: AtomicU64::new(0),
        })
    }

    /// The cap, in bytes.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// Bytes charged now (replies being read, and those that went over).
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// A connection whose reads fail once more than the budget's cap came in on it, or
/// once the capped replies being read at the same time add up to more than the cap
/// (`None`: no cap, for streams bounded by their reader, such as logs).
pub struct Capped<T> {
    inner: T,
    budget: Option<Arc<ReplyBudget>>,
    left: u64,
    charged: u64,
    over: bool,
}

impl<T> Capped<T> {
    /// Wraps `inner`, charging its reads to `budget` (`None`: unbounded).
    pub fn new(inner: T, budget: Option<Arc<ReplyBudget>>) -> Self {
        Self {
            inner,
            left: budget.as_ref().map_or(0, |b| b.cap),
            budget,
            charged: 0,
            over: false,
        }
    }
}

impl<T> Drop for Capped<T> {
    fn drop(&mut self) {
        if let Some(b) = self.budget.as_ref().filter(|_| !self.over) {
            let _ = b
                .in_flight
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                    Some(v.saturating_sub(self.charged))
                });
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Capped<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = (buf.filled().len() - before) as u64;
                if let Some(b) = &this.budget {
                    let all = b.in_flight.fetch_add(n, Ordering::Relaxed) + n;
                    this.charged += n;
                    if n > this.left || all > b.cap {
                        this.over = true;
                        buf.set_filled(before);
                        return Poll::Ready(Err(too_large(b.cap)));
                    }
                    this.left -= n;
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Capped<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn capped_reads_fail_past_the_budget() {
        let data = vec![7u8; 3000];
        let budget = Arc::new(ReplyBudget {
            cap: 1000,
            in_flight: AtomicU64::new(0),
        });
        let mut r = Capped::new(&data[..], Some(budget));
        let mut out = Vec::new();
        let e = r.read_to_end(&mut out).await.unwrap_err();
        assert!(e.to_string().contains("reply too large"), "{e}");
        assert!(out.len() <= 1000);
        let mut r = Capped::new(&data[..], None);
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.unwrap();
        assert_eq!(out.len(), 3000);
    }

    #[tokio::test]
    async fn replies_read_at_the_same_time_share_one_cap_and_an_overrun_stays_counted() {
        let data = vec![1u8; 700];
        let budget = Arc::new(ReplyBudget {
            cap: 1000,
            in_flight: AtomicU64::new(0),
        });
        let mut a = Capped::new(&data[..], Some(budget.clone()));
        let mut b = Capped::new(&data[..], Some(budget.clone()));
        let mut out = Vec::new();
        a.read_to_end(&mut out).await.unwrap();
        // `a` is still open: its 700 bytes count, so `b` goes over.
        let e = b.read_to_end(&mut Vec::new()).await.unwrap_err();
        assert!(e.to_string().contains("reply too large"), "{e}");
        drop(a);
        drop(b);
        // `a`'s bytes are given back; `b`'s overrun stays charged for the run.
        assert!(budget.in_flight() >= 300, "{}", budget.in_flight());
        assert!(budget.in_flight() <= 1000, "{}", budget.in_flight());
    }

    #[test]
    fn a_run_without_its_own_cap_takes_the_process_default_clamped() {
        assert_eq!(ReplyBudget::new(Some(1)).cap(), REPLY_MAX_RANGE.0);
        assert_eq!(ReplyBudget::new(Some(u64::MAX)).cap(), REPLY_MAX_RANGE.1);
        assert_eq!(ReplyBudget::new(Some(8 << 20)).cap(), 8 << 20);
        assert_eq!(ReplyBudget::new(None).cap(), DEFAULT_REPLY_MAX);
    }
}
