//! Shared-secret checks in constant time.

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// True when `given` equals the configured secret. An unset secret never matches.
pub(crate) fn secret_matches(expected: Option<&SecretString>, given: Option<&str>) -> bool {
    match (expected, given) {
        (Some(expected), Some(given)) => {
            let expected = expected.expose_secret().as_bytes();
            !expected.is_empty() && bool::from(expected.ct_eq(given.as_bytes()))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_secret_matches() {
        let secret = SecretString::from("s3cret");
        assert!(secret_matches(Some(&secret), Some("s3cret")));
        assert!(!secret_matches(Some(&secret), Some("s3cre")));
        assert!(!secret_matches(Some(&secret), None));
        assert!(!secret_matches(None, Some("anything")));
        assert!(!secret_matches(Some(&SecretString::from("")), Some("")));
    }
}
