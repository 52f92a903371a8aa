//! The store's error: what failed (a typed kind), in which operation, on which key. Never
//! holds a credential: texts that come from the S3 library are scrubbed of them first.

use core::fmt;

use tahoe_shares::io::ErrorKind;

/// What went wrong, for a caller to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum S3ErrorKind {
    /// The service could not be reached or the connection failed (refused, reset,
    /// timed out), on every attempt of the retry policy.
    Transport,
    /// The service answered 5xx (the code) on every attempt.
    Server(u16),
    /// The service refused the credentials or the request (401/403).
    Denied,
    /// An answer the S3 API does not allow here (a status, a body that does not parse).
    Protocol,
    /// A compare-and-swap lost: another writer changed the share since this handle
    /// read it (`If-Match` failed). Nothing of this handle's change is visible.
    Conflict,
    /// The service ignores conditional writes (the start-up probe found a second
    /// `If-None-Match: *` create succeed), and the store is not in single-writer mode:
    /// operations that need compare-and-swap are refused.
    ConditionalWritesUnsupported,
    /// A manifest object does not decode (bad magic, version, size or checksum).
    Corrupt,
    /// A chunk a share's manifest names is gone: the share was replaced or removed while
    /// this handle read it. Nothing torn is returned; open the share again.
    Changed,
    /// The configured quota is used up.
    NoSpace,
    /// The configuration is unusable (no credentials, a bad endpoint).
    Config,
    /// The handle refuses further use after a failed commit.
    Poisoned,
    /// An argument is out of range (a read past the end).
    InvalidArgument,
}

/// An error of the S3 store or of one of its shares.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Error {
    kind: S3ErrorKind,
    op: &'static str,
    key: Option<String>,
    detail: Option<String>,
}

impl S3Error {
    pub(crate) fn new(kind: S3ErrorKind, op: &'static str, key: Option<&str>) -> Self {
        Self {
            kind,
            op,
            key: key.map(str::to_string),
            detail: None,
        }
    }

    pub(crate) fn detail(mut self, detail: &str) -> Self {
        self.detail = Some(detail.to_string());
        self
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> S3ErrorKind {
        self.kind
    }

    /// The object key concerned, if any.
    #[must_use]
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
}

impl fmt::Debug for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            S3ErrorKind::Transport => "the S3 service is unreachable".to_string(),
            S3ErrorKind::Server(code) => format!("the S3 service failed (HTTP {code})"),
            S3ErrorKind::Denied => "the S3 service refused the credentials".to_string(),
            S3ErrorKind::Protocol => "unexpected answer from the S3 service".to_string(),
            S3ErrorKind::Conflict => {
                "another writer changed the share (compare-and-swap lost)".to_string()
            }
            S3ErrorKind::ConditionalWritesUnsupported => {
                "the S3 service ignores conditional writes; compare-and-swap is unavailable \
                 (single-writer mode is off)"
                    .to_string()
            }
            S3ErrorKind::Corrupt => "corrupt share manifest".to_string(),
            S3ErrorKind::Changed => "the share changed while being read".to_string(),
            S3ErrorKind::NoSpace => "the store's quota is used up".to_string(),
            S3ErrorKind::Config => "bad S3 store configuration".to_string(),
            S3ErrorKind::Poisoned => "share handle unusable after a failed commit".to_string(),
            S3ErrorKind::InvalidArgument => "argument out of range".to_string(),
        };
        write!(f, "{what} ({}", self.op)?;
        if let Some(k) = &self.key {
            write!(f, " {k}")?;
        }
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        f.write_str(")")
    }
}

impl core::error::Error for S3Error {}

impl tahoe_shares::io::IoError for S3Error {
    fn kind(&self) -> ErrorKind {
        match self.kind {
            S3ErrorKind::Transport => ErrorKind::TimedOut,
            S3ErrorKind::Denied => ErrorKind::PermissionDenied,
            S3ErrorKind::Conflict | S3ErrorKind::Changed => ErrorKind::Interrupted,
            S3ErrorKind::ConditionalWritesUnsupported => ErrorKind::Unsupported,
            S3ErrorKind::Corrupt => ErrorKind::InvalidData,
            S3ErrorKind::NoSpace => ErrorKind::OutOfMemory,
            S3ErrorKind::InvalidArgument => ErrorKind::InvalidInput,
            _ => ErrorKind::Other,
        }
    }
}
