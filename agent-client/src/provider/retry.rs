//! Retry with exponential backoff and jitter on 429, 5xx and connection
//! errors, honouring the server's `Retry-After` header or the `RetryInfo`
//! of a Google error body. 401/403/404 fail at once with a clear error.

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

use super::{error_message, ProviderError};

/// How often and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Delay before the first retry (doubled each time, with jitter).
    pub base_delay: Duration,
    /// The longest delay, also the cap on a server-requested delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry number `attempt` (0-based): the
    /// exponential delay with "equal jitter" (half fixed, half random).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        let half = exp / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// Send the request built by `make`, retrying as the policy says;
/// `attempt` counts the retries made so far for this answer (also those of
/// an answer cut off, see [`pause`]). The returned response has a success
/// status.
pub(super) async fn send(
    policy: &RetryPolicy,
    attempt: &mut u32,
    url: &str,
    make: impl Fn() -> RequestBuilder,
) -> Result<Response, ProviderError> {
    loop {
        let (failure, server_delay) = match make().send().await {
            Ok(resp) if resp.status().is_success() => return Ok(resp),
            Ok(resp) => {
                let status = resp.status();
                let header_delay = retry_after(&resp);
                let body = resp.text().await.unwrap_or_default();
                let message = error_message(&body);
                match status {
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                        return Err(ProviderError::Auth {
                            status: status.as_u16(),
                            message,
                        })
                    }
                    StatusCode::NOT_FOUND => {
                        return Err(ProviderError::NotFound {
                            url: url.to_string(),
                            message,
                        })
                    }
                    s if retryable(s) => (
                        format!("HTTP {}: {message}", s.as_u16()),
                        header_delay.or_else(|| retry_info(&body)),
                    ),
                    s => {
                        return Err(ProviderError::Status {
                            status: s.as_u16(),
                            message,
                        })
                    }
                }
            }
            Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => {
                (format!("connection to {url}: {e}"), None)
            }
            Err(e) => return Err(ProviderError::Stream(e.to_string())),
        };
        pause(policy, attempt, failure, server_delay).await?;
    }
}

/// The wait before retry number `attempt` after `failure` (the server's
/// delay if it asked for one, capped, else the backoff), or the error saying
/// the retries are used up.
pub(super) async fn pause(
    policy: &RetryPolicy,
    attempt: &mut u32,
    failure: String,
    server_delay: Option<Duration>,
) -> Result<(), ProviderError> {
    if *attempt >= policy.max_retries {
        return Err(ProviderError::RetriesExhausted {
            attempts: *attempt + 1,
            last: failure,
        });
    }
    let delay = server_delay
        .map(|d| d.min(policy.max_delay))
        .unwrap_or_else(|| policy.backoff(*attempt));
    tokio::time::sleep(delay).await;
    *attempt += 1;
    Ok(())
}

/// Statuses worth another try: rate limits, timeouts, server trouble
/// (529 is Anthropic's "overloaded").
fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
}

/// `Retry-After` in seconds (the HTTP-date form falls back to backoff).
fn retry_after(resp: &Response) -> Option<Duration> {
    let v = resp.headers().get(reqwest::header::RETRY_AFTER)?;
    let secs: f64 = v.to_str().ok()?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// The `retryDelay` of a `google.rpc.RetryInfo` detail in an error body,
/// e.g. `"37s"` or `"0.5s"`.
fn retry_info(body: &str) -> Option<Duration> {
    let v: Value = serde_json::from_str(body).ok()?;
    let details = v.pointer("/error/details")?.as_array()?;
    details.iter().find_map(|d| {
        let ty = d.get("@type")?.as_str()?;
        if !ty.ends_with("google.rpc.RetryInfo") {
            return None;
        }
        let secs: f64 = d
            .get("retryDelay")?
            .as_str()?
            .strip_suffix('s')?
            .parse()
            .ok()?;
        (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_info_from_a_google_error_body() {
        let body = r#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED",
            "details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure"},
                       {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}"#;
        assert_eq!(retry_info(body), Some(Duration::from_millis(1500)));
        assert_eq!(retry_info(r#"{"error":{"message":"x"}}"#), None);
        assert_eq!(retry_info("not json"), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let p = RetryPolicy {
            max_retries: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for attempt in 0..12 {
            let d = p.backoff(attempt);
            let full = (Duration::from_millis(100) * (1 << attempt.min(16))).min(p.max_delay);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }
}
