//! The S3 requests the store makes, each retried within a bound on transport faults and
//! 5xx answers, and counted (requests, bytes sent and received) for the cost tests.

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use s3::bucket::Bucket;
use s3::creds::Credentials;
use s3::region::Region;

use crate::error::{S3Error, S3ErrorKind};
use crate::{Config, Secret};

/// Counters of the requests a store (and its shares) made, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Request body bytes sent.
    pub bytes_sent: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
}

/// The answer to a request that reached the service.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub etag: Option<String>,
}

/// A conditional PUT's condition.
#[derive(Clone, Copy)]
pub(crate) enum Cond<'a> {
    None,
    /// `If-None-Match: *`: create only.
    Create,
    /// `If-Match: <etag>`: replace only that version.
    Match(&'a str),
}

/// The bucket, the credentials' secret (to scrub from error texts) and the retry policy.
pub(crate) struct Client {
    bucket: Box<Bucket>,
    secrets: [String; 2],
    attempts: u32,
    base_delay: Duration,
    counters: Counters,
}

impl Client {
    pub(crate) fn new(config: &Config) -> Result<Self, S3Error> {
        let access = match &config.access_key {
            Some(a) => a.clone(),
            None => std::env::var("AWS_ACCESS_KEY_ID").map_err(|_| {
                S3Error::new(S3ErrorKind::Config, "credentials", None)
                    .detail("no access key given and AWS_ACCESS_KEY_ID is unset")
            })?,
        };
        let secret = match &config.secret_key {
            Some(s) => s.clone(),
            None => Secret::new(std::env::var("AWS_SECRET_ACCESS_KEY").map_err(|_| {
                S3Error::new(S3ErrorKind::Config, "credentials", None)
                    .detail("no secret key given and AWS_SECRET_ACCESS_KEY is unset")
            })?),
        };
        let creds = Credentials::new(Some(&access), Some(secret.expose()), None, None, None)
            .map_err(|_| {
                S3Error::new(S3ErrorKind::Config, "credentials", None)
                    .detail("credentials rejected")
            })?;
        let region = Region::Custom {
            region: config.region.clone(),
            endpoint: config.endpoint.trim_end_matches('/').to_string(),
        };
        let mut bucket = Bucket::new(&config.bucket, region, creds).map_err(|e| {
            S3Error::new(S3ErrorKind::Config, "bucket", None).detail(&e.to_string())
        })?;
        bucket.set_path_style();
        bucket.set_request_timeout(Some(config.request_timeout));
        // rust-s3 retries on its own (a global setting, 1 by default, with sleeps of whole
        // seconds); this crate retries itself, by its own policy, so the library's is off.
        s3::set_retries(0);
        Ok(Self {
            bucket,
            secrets: [access, secret.expose().to_string()],
            attempts: config.retry_attempts.max(1),
            base_delay: config.retry_base_delay,
            counters: Counters::default(),
        })
    }

    pub(crate) fn stats(&self) -> RequestStats {
        RequestStats {
            requests: self.counters.requests.load(Ordering::Relaxed),
            bytes_sent: self.counters.bytes_sent.load(Ordering::Relaxed),
            bytes_received: self.counters.bytes_received.load(Ordering::Relaxed),
        }
    }

    /// A library error's text with the credentials cut out (they never appear in our
    /// errors, whatever a dependency puts in its messages).
    fn scrub(&self, text: &str) -> String {
        let mut t = text.to_string();
        for s in &self.secrets {
            if !s.is_empty() {
                t = t.replace(s.as_str(), "[redacted]");
            }
        }
        t
    }

    /// Runs `f` until it reaches the service with an answer below 500, at most
    /// `attempts` times, sleeping `base_delay * 2^i` between tries.
    fn retry(
        &self,
        op: &'static str,
        key: &str,
        sent: usize,
        mut f: impl FnMut() -> Result<Reply, s3::error::S3Error>,
    ) -> Result<Reply, S3Error> {
        let mut last = None;
        for attempt in 0..self.attempts {
            if attempt > 0 {
                std::thread::sleep(self.base_delay * 2u32.saturating_pow(attempt - 1));
            }
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            self.counters
                .bytes_sent
                .fetch_add(sent as u64, Ordering::Relaxed);
            match f() {
                Ok(r) if r.status >= 500 => {
                    last = Some(
                        S3Error::new(S3ErrorKind::Server(r.status), op, Some(key))
                            .detail(&format!("HTTP {} after {} attempts", r.status, attempt + 1)),
                    );
                }
                Ok(r) => {
                    self.counters
                        .bytes_received
                        .fetch_add(r.body.len() as u64, Ordering::Relaxed);
                    return match r.status {
                        401 | 403 => Err(S3Error::new(S3ErrorKind::Denied, op, Some(key))
                            .detail(&format!("HTTP {}", r.status))),
                        _ => Ok(r),
                    };
                }
                Err(e) => {
                    // A listing whose body does not parse is most often an error page
                    // (rust-s3 parses before it shows the status): retried like a 5xx.
                    let (kind, again) = match &e {
                        s3::error::S3Error::Atto(_) | s3::error::S3Error::Io(_) => {
                            (S3ErrorKind::Transport, true)
                        }
                        s3::error::S3Error::SerdeXml(_) => (S3ErrorKind::Protocol, true),
                        _ => (S3ErrorKind::Protocol, false),
                    };
                    let err = S3Error::new(kind, op, Some(key))
                        .detail(&self.scrub(&format!("{e} (after {} attempts)", attempt + 1)));
                    if !again {
                        return Err(err);
                    }
                    last = Some(err);
                }
            }
        }
        Err(last.unwrap_or_else(|| S3Error::new(S3ErrorKind::Transport, op, Some(key))))
    }

    fn reply(r: &s3::request::ResponseData) -> Reply {
        let etag = r
            .headers()
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("etag"))
            .map(|(_, v)| v);
        Reply {
            status: r.status_code(),
            body: r.as_slice().to_vec(),
            etag,
        }
    }

    /// GET an object; `None` for 404.
    pub(crate) fn get(&self, key: &str) -> Result<Option<Reply>, S3Error> {
        let r = self.retry("get", key, 0, || {
            self.bucket.get_object(key).map(|r| Self::reply(&r))
        })?;
        match r.status {
            200 => Ok(Some(r)),
            404 => Ok(None),
            s => Err(Self::unexpected("get", key, s)),
        }
    }

    /// PUT an object under a condition; `Ok(None)` when the condition failed (412) and
    /// `Ok(Some(etag))` on success.
    pub(crate) fn put(
        &self,
        key: &str,
        body: &[u8],
        cond: Cond<'_>,
    ) -> Result<Option<String>, S3Error> {
        let r = self.retry("put", key, body.len(), || {
            // The condition travels as an extra (signed) header of a per-request bucket.
            let mut headers = http::HeaderMap::new();
            match cond {
                Cond::None => {}
                Cond::Create => {
                    headers.insert("If-None-Match", http::HeaderValue::from_static("*"));
                }
                Cond::Match(etag) => {
                    headers.insert("If-Match", http::HeaderValue::from_str(etag)?);
                }
            }
            let bucket = if headers.is_empty() {
                None
            } else {
                Some(self.bucket.with_extra_headers(headers)?)
            };
            bucket
                .as_ref()
                .unwrap_or(&*self.bucket)
                .put_object(key, body)
                .map(|r| {
                    let mut reply = Self::reply(&r);
                    // With `etag = true` rust-s3 hands the ETag back as the body.
                    if reply.etag.is_none() && r.status_code() == 200 {
                        reply.etag = r.as_str().ok().map(str::to_string);
                    }
                    reply.body.clear();
                    reply
                })
        })?;
        match r.status {
            200 | 201 | 204 => Ok(Some(r.etag.unwrap_or_default())),
            // SeaweedFS answers If-Match on a missing key with 412 (AWS: 404): both mean the
            // version the caller had is gone.
            412 | 404 if !matches!(cond, Cond::None) => Ok(None),
            s => Err(Self::unexpected("put", key, s)),
        }
    }

    /// HEAD an object: its size, `None` for 404.
    pub(crate) fn head(&self, key: &str) -> Result<Option<u64>, S3Error> {
        let mut size = None;
        let r = self.retry("head", key, 0, || {
            self.bucket.head_object(key).map(|(h, status)| {
                size = h.content_length.and_then(|n| u64::try_from(n).ok());
                Reply {
                    status,
                    body: Vec::new(),
                    etag: h.e_tag,
                }
            })
        })?;
        match r.status {
            200 => Ok(Some(size.unwrap_or(0))),
            404 => Ok(None),
            s => Err(Self::unexpected("head", key, s)),
        }
    }

    /// DELETE an object (absent is fine).
    pub(crate) fn delete(&self, key: &str) -> Result<(), S3Error> {
        let r = self.retry("delete", key, 0, || {
            self.bucket.delete_object(key).map(|r| Self::reply(&r))
        })?;
        match r.status {
            200 | 204 | 404 => Ok(()),
            s => Err(Self::unexpected("delete", key, s)),
        }
    }

    /// Every key under `prefix` (with its size), or with `delimiter` the keys and the
    /// common prefixes one level down; pages through `ListObjectsV2` past 1000 keys.
    pub(crate) fn list(
        &self,
        prefix: &str,
        delimiter: bool,
        f: &mut dyn FnMut(Entry<'_>) -> bool,
    ) -> Result<(), S3Error> {
        let mut token: Option<String> = None;
        loop {
            let mut page = None;
            let r = self.retry("list", prefix, 0, || {
                self.bucket
                    .list_page(
                        prefix.to_string(),
                        delimiter.then(|| "/".to_string()),
                        token.clone(),
                        None,
                        None,
                    )
                    .map(|(result, status)| {
                        page = Some(result);
                        Reply {
                            status,
                            body: Vec::new(),
                            etag: None,
                        }
                    })
            })?;
            if r.status != 200 {
                return Err(Self::unexpected("list", prefix, r.status));
            }
            let Some(page) = page else {
                return Err(S3Error::new(S3ErrorKind::Protocol, "list", Some(prefix)));
            };
            for o in &page.contents {
                if !f(Entry::Key(&o.key, o.size, &o.last_modified)) {
                    return Ok(());
                }
            }
            for p in page.common_prefixes.iter().flatten() {
                if !f(Entry::Prefix(&p.prefix)) {
                    return Ok(());
                }
            }
            match page.next_continuation_token {
                Some(t) if page.is_truncated => token = Some(t),
                _ => return Ok(()),
            }
        }
    }

    fn unexpected(op: &'static str, key: &str, status: u16) -> S3Error {
        S3Error::new(S3ErrorKind::Protocol, op, Some(key))
            .detail(&format!("unexpected HTTP {status}"))
    }
}

/// One item of a listing.
pub(crate) enum Entry<'a> {
    /// An object key, its size and its `LastModified` (RFC 3339).
    Key(&'a str, u64, &'a str),
    /// A common prefix (a "directory", listed with a delimiter).
    Prefix(&'a str),
}
