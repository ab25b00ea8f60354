//! Checking where an outbound webhook may go (SSRF protection).
//!
//! An endpoint URL is checked when it is registered and again before every
//! attempt: the scheme must be `https` (`http` only when configuration
//! allows it), and every address the host resolves to must be public
//! (`paywarden_core::outbound::forbidden_reason`) unless configuration
//! allows private ones. The HTTP client also resolves through
//! [`CheckedResolver`], which drops refused addresses, so a name that
//! resolves differently between the check and the connection (DNS
//! rebinding) still cannot reach a refused address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use paywarden_core::outbound::{forbidden_reason, ForbiddenAddress};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Which destinations configuration allows beyond public `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DestinationPolicy {
    /// Loopback, private, link-local and other internal addresses.
    pub allow_private: bool,
    /// Plain `http://` URLs.
    pub allow_http: bool,
}

/// Why a destination is refused. The message names the reason (shown to
/// the operator as a 400), never more of the URL than its host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    #[error("url is not a valid absolute URL")]
    NotAUrl,
    #[error("url must use https (http is allowed only when outbound_allow_http is set)")]
    Scheme,
    #[error("url has no host")]
    NoHost,
    #[error("url must not carry a username or password")]
    Credentials,
    #[error("{host} resolves to {reason} ({ip}); private destinations are allowed only when outbound_allow_private is set")]
    Forbidden {
        host: String,
        ip: IpAddr,
        reason: ForbiddenAddress,
    },
    #[error("{host} does not resolve")]
    Unresolvable { host: String },
}

impl DestinationPolicy {
    /// Parses and checks the URL's form (no network).
    pub fn parse(&self, text: &str) -> Result<Url, DestinationError> {
        let url = Url::parse(text.trim()).map_err(|_| DestinationError::NotAUrl)?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            _ => return Err(DestinationError::Scheme),
        }
        if url.host().is_none() {
            return Err(DestinationError::NoHost);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(DestinationError::Credentials);
        }
        Ok(url)
    }

    fn check_ip(&self, host: &str, ip: IpAddr) -> Result<(), DestinationError> {
        match forbidden_reason(ip) {
            Some(reason) if !self.allow_private => Err(DestinationError::Forbidden {
                host: host.to_owned(),
                ip,
                reason,
            }),
            _ => Ok(()),
        }
    }

    /// Checks the URL's form and every address its host resolves to.
    pub async fn check(&self, text: &str) -> Result<Url, DestinationError> {
        let url = self.parse(text)?;
        let port = url.port_or_known_default().unwrap_or(443);
        match url.host() {
            Some(Host::Ipv4(ip)) => self.check_ip(&ip.to_string(), IpAddr::V4(ip))?,
            Some(Host::Ipv6(ip)) => self.check_ip(&ip.to_string(), IpAddr::V6(ip))?,
            Some(Host::Domain(name)) => {
                let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
                    .await
                    .map_err(|_| DestinationError::Unresolvable {
                        host: name.to_owned(),
                    })?
                    .collect();
                if addrs.is_empty() {
                    return Err(DestinationError::Unresolvable {
                        host: name.to_owned(),
                    });
                }
                for addr in addrs {
                    self.check_ip(name, addr.ip())?;
                }
            }
            None => return Err(DestinationError::NoHost),
        }
        Ok(url)
    }
}

/// A DNS resolver for the delivery client that answers only allowed
/// addresses (the system resolver's answers, filtered).
#[derive(Debug, Clone)]
pub(crate) struct CheckedResolver {
    policy: DestinationPolicy,
}

impl CheckedResolver {
    pub(crate) fn new(policy: DestinationPolicy) -> Arc<Self> {
        Arc::new(Self { policy })
    }
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| policy.check_ip(&host, addr.ip()).is_ok())
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(DestinationError::Unresolvable { host })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: DestinationPolicy = DestinationPolicy {
        allow_private: false,
        allow_http: false,
    };

    #[tokio::test]
    async fn internal_destinations_are_refused_with_their_reason() {
        for (url, reason) in [
            ("https://127.0.0.1/hook", ForbiddenAddress::Loopback),
            ("https://[::1]:8443/hook", ForbiddenAddress::Loopback),
            (
                "https://169.254.169.254/latest",
                ForbiddenAddress::LinkLocal,
            ),
            ("https://10.0.0.7/hook", ForbiddenAddress::Private),
            (
                "https://[::ffff:192.168.0.1]/hook",
                ForbiddenAddress::Private,
            ),
            ("https://localhost/hook", ForbiddenAddress::Loopback),
        ] {
            match STRICT.check(url).await {
                Err(DestinationError::Forbidden { reason: got, .. }) => {
                    assert_eq!(got, reason, "{url}")
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn scheme_and_credentials_are_checked_and_private_can_be_allowed() {
        assert_eq!(
            STRICT.check("http://93.184.216.34/hook").await,
            Err(DestinationError::Scheme)
        );
        assert_eq!(
            STRICT.check("ftp://93.184.216.34/hook").await,
            Err(DestinationError::Scheme)
        );
        assert_eq!(
            STRICT.check("https://user:pw@93.184.216.34/").await,
            Err(DestinationError::Credentials)
        );
        assert_eq!(
            STRICT.check("not a url").await,
            Err(DestinationError::NotAUrl)
        );
        assert!(STRICT.check("https://93.184.216.34/hook").await.is_ok());
        let open = DestinationPolicy {
            allow_private: true,
            allow_http: true,
        };
        assert!(open.check("http://127.0.0.1:9/hook").await.is_ok());
    }
}
