//! One module per provider protocol, and what they share.

use tokio::io::AsyncWrite;

use crate::download::ProgressFn;
use crate::http::{ErrorBody, Http, HttpConfig, join, parse_base};
use crate::{Asset, Error, Result, Secret};

pub(crate) mod fal;
pub(crate) mod limits;
pub(crate) mod luma;
pub(crate) mod openai;
pub(crate) mod replicate;
pub(crate) mod runway;
pub(crate) mod veo;

/// What every adapter holds: the HTTP view, the base URL, the default model.
#[derive(Clone, Debug)]
pub(crate) struct Common {
    pub(crate) http: Http,
    pub(crate) base: String,
    pub(crate) model: String,
}

impl Common {
    pub(crate) fn new(
        provider: &'static str,
        key: Secret,
        base: &str,
        model: &str,
        detect: fn(&ErrorBody) -> bool,
    ) -> Result<Self> {
        Ok(Self {
            http: Http::new(HttpConfig::new()?, provider, key).content_policy(detect),
            base: parse_base(provider, base)?,
            model: model.to_owned(),
        })
    }

    pub(crate) fn url(&self, path: &str) -> String {
        join(&self.base, path)
    }

    pub(crate) fn provider(&self) -> &'static str {
        self.http.provider
    }

    pub(crate) fn key(&self) -> &str {
        self.http.key.expose()
    }

    /// Whether `url` is on the provider's own host, the only place its key
    /// may be sent (generated files often live on a CDN that must not see
    /// it).
    pub(crate) fn same_origin(&self, url: &str) -> bool {
        let (Ok(a), Ok(b)) = (url::Url::parse(url), url::Url::parse(&self.base)) else {
            return false;
        };
        a.origin() == b.origin()
    }

    pub(crate) fn invalid(&self, reason: impl Into<String>) -> Error {
        Error::InvalidRequest {
            provider: self.provider().into(),
            reason: reason.into(),
        }
    }

    /// GETs `url` with the provider's `auth` and parses the JSON answer: the
    /// status poll every adapter makes.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: impl reqwest::IntoUrl,
        auth: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<(T, reqwest::header::HeaderMap)> {
        self.http.json(auth(self.http.client().get(url))).await
    }

    /// Downloads an asset, adding `auth` to the request only when the asset
    /// is on the provider's own host.
    pub(crate) async fn download(
        &self,
        asset: &Asset,
        sink: &mut (dyn AsyncWrite + Unpin + Send),
        progress: ProgressFn<'_>,
        auth: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<u64> {
        let request = self.http.client().get(&asset.url);
        let request = if self.same_origin(&asset.url) {
            auth(request)
        } else {
            request
        };
        self.http.download(request, sink, progress).await
    }
}

/// Words providers use when they refuse content, in codes and messages.
pub(crate) fn mentions_policy(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    [
        "content_policy",
        "content policy",
        "moderation",
        "safety",
        "nsfw",
        "sensitive",
        "prohibited",
        "violat",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// The usual test: the error code or message speaks of a policy.
pub(crate) fn policy_in_error(body: &ErrorBody) -> bool {
    body.code.as_deref().is_some_and(mentions_policy) || mentions_policy(&body.message)
}

/// The builder-style methods every adapter has.
macro_rules! adapter_common {
    ($ty:ident, $provider:literal, $var:literal, $base:literal, $model:literal, $detect:expr) => {
        impl $ty {
            /// The environment variable holding the key.
            pub const KEY_VAR: &'static str = $var;
            /// The provider's public endpoint.
            pub const DEFAULT_BASE_URL: &'static str = $base;
            /// The model used when a request names none.
            pub const DEFAULT_MODEL: &'static str = $model;
            /// The name stored in every [`RemoteJob`](crate::RemoteJob) it creates.
            pub const NAME: &'static str = $provider;

            /// A backend with `key`, the public endpoint, the shared client
            /// and the default timeout.
            ///
            /// # Errors
            ///
            /// [`Error::Config`](crate::Error::Config) if the TLS stack
            /// cannot start.
            pub fn new(key: $crate::Secret) -> $crate::Result<Self> {
                Ok(Self::from_common($crate::providers::Common::new(
                    $provider, key, $base, $model, $detect,
                )?))
            }

            /// A backend whose key is read from the environment or `.env`.
            ///
            /// # Errors
            ///
            /// [`Error::MissingKey`](crate::Error::MissingKey) naming the
            /// variable when it is not set.
            pub fn from_env() -> $crate::Result<Self> {
                Self::new($crate::Secret::from_env($var)?)
            }

            /// Talks to `base_url` instead of the public endpoint (a
            /// gateway, a proxy, a mock server).
            ///
            /// # Errors
            ///
            /// [`Error::Config`](crate::Error::Config) if it is not a URL.
            pub fn with_base_url(mut self, base_url: &str) -> $crate::Result<Self> {
                self.common.base = $crate::http::parse_base($provider, base_url)?;
                Ok(self)
            }

            /// Uses another client, timeout or download cap.
            #[must_use]
            pub fn with_http(mut self, config: $crate::HttpConfig) -> Self {
                self.common.http.config = config;
                self
            }

            /// Sets the model used when a request names none.
            #[must_use]
            pub fn with_default_model(mut self, model: impl Into<String>) -> Self {
                self.common.model = model.into();
                self
            }

            fn model<'a>(&'a self, request: &'a $crate::VideoRequest) -> &'a str {
                request.model.as_deref().unwrap_or(&self.common.model)
            }
        }
    };
}
pub(crate) use adapter_common;
