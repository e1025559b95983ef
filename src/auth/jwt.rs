//! JWT verification for the built-in channel-authorisation endpoint: which
//! key and algorithm an app accepts, the claims a token carries, and which
//! channels those claims grant. Pure, no IO (the PEM text is read by
//! `config`).
//!
//! A token must be signed with the app's one algorithm and carry `sub` (the
//! user id) and `exp`; `iss` and `aud` are checked when configured; `nbf` is
//! checked when present; `exp` and `nbf` allow 60 seconds of clock skew.
//! `channels` lists channel-name patterns: `*` matches any run of
//! characters and `{sub}` stands for the token's own `sub`, matched
//! literally (a `*` inside `sub` is not a wildcard).

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The one signing algorithm an app accepts (`algorithm` in `[apps.auth]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with `jwt_secret` (the default for a secret).
    #[serde(rename = "HS256")]
    Hs256,
    /// HMAC-SHA384 with `jwt_secret`.
    #[serde(rename = "HS384")]
    Hs384,
    /// HMAC-SHA512 with `jwt_secret`.
    #[serde(rename = "HS512")]
    Hs512,
    /// RSASSA-PKCS1-v1_5 SHA-256 (the default for an RSA key).
    #[serde(rename = "RS256")]
    Rs256,
    /// RSASSA-PKCS1-v1_5 SHA-384.
    #[serde(rename = "RS384")]
    Rs384,
    /// RSASSA-PKCS1-v1_5 SHA-512.
    #[serde(rename = "RS512")]
    Rs512,
    /// RSASSA-PSS SHA-256.
    #[serde(rename = "PS256")]
    Ps256,
    /// ECDSA P-256 SHA-256 (the default for an EC key).
    #[serde(rename = "ES256")]
    Es256,
    /// ECDSA P-384 SHA-384.
    #[serde(rename = "ES384")]
    Es384,
}

/// Every accepted `algorithm` name, for error messages.
pub(crate) const ALGORITHM_NAMES: &str =
    "HS256, HS384, HS512, RS256, RS384, RS512, PS256, ES256, ES384";

impl std::str::FromStr for JwtAlgorithm {
    type Err = ();

    fn from_str(name: &str) -> Result<Self, ()> {
        Ok(match name.trim().to_ascii_uppercase().as_str() {
            "HS256" => JwtAlgorithm::Hs256,
            "HS384" => JwtAlgorithm::Hs384,
            "HS512" => JwtAlgorithm::Hs512,
            "RS256" => JwtAlgorithm::Rs256,
            "RS384" => JwtAlgorithm::Rs384,
            "RS512" => JwtAlgorithm::Rs512,
            "PS256" => JwtAlgorithm::Ps256,
            "ES256" => JwtAlgorithm::Es256,
            "ES384" => JwtAlgorithm::Es384,
            _ => return Err(()),
        })
    }
}

impl JwtAlgorithm {
    fn to_jwt(self) -> Algorithm {
        match self {
            JwtAlgorithm::Hs256 => Algorithm::HS256,
            JwtAlgorithm::Hs384 => Algorithm::HS384,
            JwtAlgorithm::Hs512 => Algorithm::HS512,
            JwtAlgorithm::Rs256 => Algorithm::RS256,
            JwtAlgorithm::Rs384 => Algorithm::RS384,
            JwtAlgorithm::Rs512 => Algorithm::RS512,
            JwtAlgorithm::Ps256 => Algorithm::PS256,
            JwtAlgorithm::Es256 => Algorithm::ES256,
            JwtAlgorithm::Es384 => Algorithm::ES384,
        }
    }

    fn family(self) -> KeyFamily {
        match self {
            JwtAlgorithm::Hs256 | JwtAlgorithm::Hs384 | JwtAlgorithm::Hs512 => KeyFamily::Secret,
            JwtAlgorithm::Rs256
            | JwtAlgorithm::Rs384
            | JwtAlgorithm::Rs512
            | JwtAlgorithm::Ps256 => KeyFamily::Rsa,
            JwtAlgorithm::Es256 | JwtAlgorithm::Es384 => KeyFamily::Ec,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFamily {
    Secret,
    Rsa,
    Ec,
}

impl KeyFamily {
    fn describe(self) -> &'static str {
        match self {
            KeyFamily::Secret => "jwt_secret (HS256, HS384, HS512)",
            KeyFamily::Rsa => "an RSA public key (RS256, RS384, RS512, PS256)",
            KeyFamily::Ec => "an EC public key (ES256, ES384)",
        }
    }
}

/// What verifies tokens: a shared secret or a public key's PEM text.
#[derive(Clone, Copy)]
pub(crate) enum JwtKey<'a> {
    /// HMAC secret.
    Secret(&'a str),
    /// PEM text of an RSA or EC public key (SPKI `PUBLIC KEY`, or PKCS#1
    /// `RSA PUBLIC KEY`).
    PublicKeyPem(&'a str),
}

/// Why a key configuration cannot verify tokens (a start-up error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeyError {
    /// An empty secret.
    #[error("jwt_secret is empty")]
    EmptySecret,
    /// A private key where the public key belongs.
    #[error("jwt_public_key holds a private key; give the public key")]
    PrivateKey,
    /// Not a PEM RSA or EC public key.
    #[error("jwt_public_key is not a PEM RSA or EC public key")]
    NotAPublicKey,
    /// `algorithm` does not fit the key.
    #[error("algorithm {algorithm:?} needs {needs}")]
    AlgorithmMismatch {
        /// The configured algorithm.
        algorithm: JwtAlgorithm,
        /// What it needs instead.
        needs: &'static str,
    },
}

/// Why a token was refused (every variant answers 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenError {
    /// `exp` is in the past.
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("token is not valid yet")]
    NotYetValid,
    /// The signature does not verify with the app's key.
    #[error("token signature is invalid")]
    BadSignature,
    /// Signed with an algorithm the app does not accept.
    #[error("token algorithm is not accepted")]
    WrongAlgorithm,
    /// `iss` is not the configured issuer.
    #[error("token issuer is not accepted")]
    WrongIssuer,
    /// `aud` is not the configured audience.
    #[error("token audience is not accepted")]
    WrongAudience,
    /// A required claim is absent.
    #[error("token lacks the {0} claim")]
    MissingClaim(String),
    /// Claims of the wrong type (`sub` not a string, `channels` or
    /// `watchlist` not an array of strings, `user_info` not an object).
    #[error("token claims are malformed")]
    BadClaims,
    /// Not a JWT at all.
    #[error("token is malformed")]
    Malformed,
}

/// Verifies one app's tokens.
#[derive(Clone)]
pub(crate) struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Verifier {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for `key`; `algorithm` defaults to HS256 for a secret,
    /// RS256 for an RSA key and ES256 for an EC key.
    ///
    /// # Errors
    /// [`KeyError`] when the key is unusable or does not fit `algorithm`.
    pub(crate) fn new(
        key: JwtKey<'_>,
        algorithm: Option<JwtAlgorithm>,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Verifier, KeyError> {
        let (key, family) = match key {
            JwtKey::Secret("") => return Err(KeyError::EmptySecret),
            JwtKey::Secret(secret) => (
                DecodingKey::from_secret(secret.as_bytes()),
                KeyFamily::Secret,
            ),
            JwtKey::PublicKeyPem(pem) if pem.contains("PRIVATE KEY-----") => {
                return Err(KeyError::PrivateKey)
            }
            JwtKey::PublicKeyPem(pem) => {
                if let Ok(key) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
                    (key, KeyFamily::Rsa)
                } else if let Ok(key) = DecodingKey::from_ec_pem(pem.as_bytes()) {
                    (key, KeyFamily::Ec)
                } else {
                    return Err(KeyError::NotAPublicKey);
                }
            }
        };
        let algorithm = match (algorithm, family) {
            (Some(a), _) if a.family() == family => a,
            (Some(a), _) => {
                return Err(KeyError::AlgorithmMismatch {
                    algorithm: a,
                    needs: a.family().describe(),
                })
            }
            (None, KeyFamily::Secret) => JwtAlgorithm::Hs256,
            (None, KeyFamily::Rsa) => JwtAlgorithm::Rs256,
            (None, KeyFamily::Ec) => JwtAlgorithm::Es256,
        };
        let mut validation = Validation::new(algorithm.to_jwt());
        let mut required = vec!["exp", "sub"];
        validation.validate_nbf = true;
        if let Some(issuer) = issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            // An `aud` the app did not ask about is ignored.
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Ok(Verifier { key, validation })
    }

    /// The claims of `token`, once its signature, algorithm and time and
    /// issuer/audience claims check out.
    ///
    /// # Errors
    /// [`TokenError`] says why the token was refused.
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.into_kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim(claim),
                ErrorKind::InvalidClaimFormat(_) | ErrorKind::Json(_) => TokenError::BadClaims,
                _ => TokenError::Malformed,
            })?;
        if claims.sub.is_empty() {
            return Err(TokenError::MissingClaim("sub".to_owned()));
        }
        Ok(claims)
    }
}

/// The claims the endpoint uses; others are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Claims {
    /// The user id (absent reads as empty, refused as a missing claim).
    #[serde(default)]
    pub sub: String,
    /// Channel-name patterns this token grants; none when absent.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Presence `user_info` and sign-in `user_info`.
    #[serde(default)]
    pub user_info: Option<Map<String, Value>>,
    /// Sign-in `watchlist`: the user ids whose online status the user
    /// receives.
    #[serde(default)]
    pub watchlist: Option<Vec<String>>,
}

impl Claims {
    /// The presence `channel_data` of the token's user:
    /// `{"user_id": sub, "user_info": …}` (`user_info` only when given).
    pub(crate) fn channel_data(&self) -> String {
        let mut member = serde_json::Map::new();
        member.insert("user_id".to_owned(), self.sub.clone().into());
        if let Some(info) = &self.user_info {
            member.insert("user_info".to_owned(), info.clone().into());
        }
        serde_json::Value::Object(member).to_string()
    }

    /// Whether one of the token's `channels` patterns matches `channel`.
    pub(crate) fn grants(&self, channel: &str) -> bool {
        self.channels
            .iter()
            .any(|pattern| pattern_matches(pattern, &self.sub, channel))
    }
}

/// Whether `channel` matches `pattern`, where `*` matches any run of
/// characters (also none) and `{sub}` matches exactly `sub`.
pub(crate) fn pattern_matches(pattern: &str, sub: &str, channel: &str) -> bool {
    let mut pieces: Vec<Piece<'_>> = Vec::new();
    for (i, part) in pattern.split("{sub}").enumerate() {
        if i > 0 {
            pieces.push(Piece::Literal(sub));
        }
        for (j, literal) in part.split('*').enumerate() {
            if j > 0 {
                pieces.push(Piece::Star);
            }
            if !literal.is_empty() {
                pieces.push(Piece::Literal(literal));
            }
        }
    }
    glob(&pieces, channel)
}

#[derive(Debug, Clone, Copy)]
enum Piece<'a> {
    Literal(&'a str),
    Star,
}

/// Matches `text` against `pieces` (literals and stars), backtracking to
/// the last star only, so the cost stays linear in pieces × text.
fn glob(pieces: &[Piece<'_>], text: &str) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    loop {
        match pieces.get(pi) {
            Some(Piece::Star) => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some(Piece::Literal(lit)) if text[ti..].starts_with(lit) => {
                pi += 1;
                ti += lit.len();
                continue;
            }
            None if ti == text.len() => return true,
            _ => {}
        }
        // Mismatch: let the last star swallow one more character.
        let Some((sp, st)) = star else {
            return false;
        };
        let Some(c) = text[st..].chars().next() else {
            return false;
        };
        star = Some((sp, st + c.len_utf8()));
        pi = sp + 1;
        ti = st + c.len_utf8();
    }
}

#[cfg(test)]
mod tests;
