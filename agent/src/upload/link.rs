//! An upload link, checked: https only, not cut short by the shell; its query string
//! (the signature, a credential) is never shown.

use reqwest::Url;

use super::{UploadError, usage};

/// An upload link, checked. Its query string is never shown.
#[derive(Clone)]
pub struct Link {
    pub(super) url: Url,
    /// The link without query string, fragment or user info: safe to print.
    pub(super) shown: String,
    /// The link signs `x-amz-checksum-sha256`: the header must be sent.
    pub(super) sha256_header: bool,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("shown", &self.shown).finish()
    }
}

impl Link {
    /// Parses and checks an upload link.
    pub fn parse(s: &str) -> Result<Self, UploadError> {
        let s = s.trim();
        let url = Url::parse(s).map_err(|e| {
            usage(format!(
                "the upload link is not a URL ({e}): copy the whole link support sent, in single quotes: --to 'https://...'"
            ))
        })?;
        let mut shown_url = url.clone();
        shown_url.set_query(None);
        shown_url.set_fragment(None);
        let _ = shown_url.set_username("");
        let _ = shown_url.set_password(None);
        let shown = shown_url.to_string();
        match url.scheme() {
            "https" => {}
            "http" => {
                return Err(usage(format!(
                    "{shown}: the upload link must be https:// (plain http would let anyone on the way see and change the bundle): ask support for an https:// link"
                )));
            }
            other => {
                return Err(usage(format!(
                    "{shown}: {other}:// links are not supported: ask support for an https:// upload link"
                )));
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(usage(format!("{shown}: the upload link has no host")));
        }
        let keys: Vec<String> = url
            .query_pairs()
            .map(|(k, _)| k.to_ascii_lowercase())
            .collect();
        let has = |k: &str| keys.iter().any(|x| x == k);
        let cut = (has("x-amz-algorithm") && !has("x-amz-signature"))
            || (has("x-goog-algorithm") && !has("x-goog-signature"))
            || (has("sv") && has("sr") && !has("sig"));
        if cut {
            return Err(usage(format!(
                "{shown}: the upload link looks cut short (its signature is missing): the shell cuts an unquoted link at the first &; put the whole link in single quotes: --to 'https://...'"
            )));
        }
        let sha256_header = url.query_pairs().any(|(k, v)| {
            k.eq_ignore_ascii_case("x-amz-signedheaders")
                && v.split(';')
                    .any(|h| h.trim().eq_ignore_ascii_case("x-amz-checksum-sha256"))
        });
        Ok(Self {
            url,
            shown,
            sha256_header,
        })
    }

    /// A folder link (path ending in `/`): each file's name is appended.
    pub fn is_folder(&self) -> bool {
        self.url.path().ends_with('/')
    }

    /// The link for the file named `name` (the same link unless it is a folder).
    pub(super) fn for_file(&self, name: &str) -> Self {
        if !self.is_folder() {
            return self.clone();
        }
        let mut url = self.url.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty().push(name);
        }
        let mut shown_url = url.clone();
        shown_url.set_query(None);
        shown_url.set_fragment(None);
        let _ = shown_url.set_username("");
        let _ = shown_url.set_password(None);
        Self {
            shown: shown_url.to_string(),
            url,
            sha256_header: self.sha256_header,
        }
    }

    /// `text` with the link's query string (and the whole link) replaced, in case a
    /// lower layer put it in an error.
    pub(super) fn scrub(&self, text: &str) -> String {
        let mut t = text.replace(self.url.as_str(), &self.shown);
        if let Some(q) = self.url.query().filter(|q| !q.is_empty()) {
            t = t.replace(q, "<query removed>");
        }
        t
    }
}
