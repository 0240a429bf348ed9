//! Access tokens already verified, so a client that sends the same token on every request
//! (the single-page app, for its token's whole lifetime) pays for the signature check once.
//!
//! Replaying a cached verdict is only sound while nothing the verdict depends on has
//! changed: the token's bytes (the key is their SHA-256), the clock (`exp` and `nbf` are
//! checked again on every hit, with the same leeway as a full check) and the issuer's keys
//! (the whole cache is dropped whenever the JWKS is loaded again, so a key the issuer
//! withdrew stops vouching for its tokens at the same moment as without the cache). The
//! claims are those of the token itself, so roles and e-mail are exactly as a full check
//! would map them.

use desk_domain::ports::IdentityClaims;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// At most this many tokens are remembered (≈ 300 bytes each). When full, expired entries
/// go first; if more than half are still valid, arbitrary ones go until half remain, so
/// the O(n) sweep runs at most once per `CAPACITY / 2` inserts. Beyond that many clients
/// at once, some of them simply pay for the full check more often.
pub const CAPACITY: usize = 10_000;

struct Verdict {
    claims: IdentityClaims,
    /// `exp`, in seconds since the epoch.
    expires: u64,
    /// `nbf`, when the token has one.
    not_before: Option<u64>,
}

impl Verdict {
    fn valid_at(&self, now: u64, leeway: u64) -> bool {
        self.expires.saturating_add(leeway) >= now
            && self
                .not_before
                .is_none_or(|nbf| nbf <= now.saturating_add(leeway))
    }
}

/// The cache; shared by every request of one verifier.
#[derive(Default)]
pub struct VerifiedTokens {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<[u8; 32], Verdict>,
    /// Bumped by every [`VerifiedTokens::clear`]: a check that began under older keys must
    /// not store its verdict after the keys changed.
    generation: u64,
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedTokens {
    /// The claims of `token` if it was verified before and is still within its validity
    /// window at `now` (seconds since the epoch); `None` means "check it in full".
    pub fn get(&self, token: &str, now: u64, leeway: u64) -> Option<IdentityClaims> {
        let key = key(token);
        self.lock()
            .entries
            .get(&key)
            .filter(|verdict| verdict.valid_at(now, leeway))
            .map(|verdict| verdict.claims.clone())
    }

    /// The current key generation; take it before a full check and give it to
    /// [`VerifiedTokens::insert`].
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Remembers a token that has just passed the full check begun at `generation`
    /// (nothing is stored if the keys changed meanwhile).
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &self,
        token: &str,
        claims: &IdentityClaims,
        expires: u64,
        not_before: Option<u64>,
        now: u64,
        leeway: u64,
        generation: u64,
    ) {
        let key = key(token);
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        let entries = &mut inner.entries;
        if entries.len() >= CAPACITY {
            entries.retain(|_, verdict| verdict.valid_at(now, leeway));
            let excess = entries.len().saturating_sub(CAPACITY / 2);
            if excess > 0 {
                let victims: Vec<[u8; 32]> = entries.keys().take(excess).copied().collect();
                for victim in victims {
                    entries.remove(&victim);
                }
            }
        }
        entries.insert(
            key,
            Verdict {
                claims: claims.clone(),
                expires,
                not_before,
            },
        );
    }

    /// Forgets every verdict (the issuer's keys changed).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.generation += 1;
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a consistent map (every update is one call).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(subject: &str) -> IdentityClaims {
        IdentityClaims {
            issuer: "https://sso.example.org/realms/desk".into(),
            subject: subject.into(),
            email: Some(format!("{subject}@example.org")),
            email_verified: true,
            first_name: None,
            last_name: None,
            is_staff: true,
            is_superuser: false,
        }
    }

    #[test]
    fn a_verdict_holds_only_inside_the_tokens_validity_window() {
        let cache = VerifiedTokens::default();
        cache.insert("t1", &claims("a"), 1_000, Some(900), 950, 30, 0);
        assert_eq!(cache.get("t1", 950, 30), Some(claims("a")));
        // Up to the leeway past `exp`, as the full check allows; not one second more.
        assert_eq!(cache.get("t1", 1_030, 30), Some(claims("a")));
        assert_eq!(cache.get("t1", 1_031, 30), None);
        // Before `nbf` minus the leeway (a clock set back) it does not hold either.
        assert_eq!(cache.get("t1", 870, 30), Some(claims("a")));
        assert_eq!(cache.get("t1", 869, 30), None);
    }

    #[test]
    fn verdicts_belong_to_the_exact_token() {
        let cache = VerifiedTokens::default();
        cache.insert("header.payload.sig", &claims("a"), 1_000, None, 0, 30, 0);
        assert_eq!(cache.get("header.payload.sig", 10, 30), Some(claims("a")));
        assert_eq!(cache.get("header.payload.sih", 10, 30), None);
        assert_eq!(cache.get("header.payload.sig ", 10, 30), None);
    }

    #[test]
    fn clearing_forgets_everything_and_refuses_late_verdicts() {
        let cache = VerifiedTokens::default();
        let before = cache.generation();
        cache.insert("t1", &claims("a"), 1_000, None, 0, 30, before);
        cache.insert("t2", &claims("b"), 1_000, None, 0, 30, before);
        cache.clear();
        assert!(cache.is_empty());
        assert_eq!(cache.get("t1", 10, 30), None);
        // A check that began under the old keys finishes after the reload: not stored.
        cache.insert("t3", &claims("c"), 1_000, None, 0, 30, before);
        assert_eq!(cache.get("t3", 10, 30), None);
        cache.insert("t3", &claims("c"), 1_000, None, 0, 30, cache.generation());
        assert_eq!(cache.get("t3", 10, 30), Some(claims("c")));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = VerifiedTokens::default();
        // Half of them already expired at the time of the next insert.
        for i in 0..CAPACITY {
            let expires = if i % 2 == 0 { 100 } else { 10_000 };
            cache.insert(&format!("t{i}"), &claims("a"), expires, None, 0, 30, 0);
        }
        assert_eq!(cache.len(), CAPACITY);
        cache.insert("fresh", &claims("b"), 10_000, None, 1_000, 30, 0);
        assert_eq!(cache.len(), CAPACITY / 2 + 1, "expired verdicts went first");
        assert_eq!(cache.get("t1", 1_000, 30), Some(claims("a")));
        // All still valid: half of them make room, the rest stay remembered.
        for i in 0..CAPACITY {
            cache.insert(&format!("u{i}"), &claims("a"), 10_000, None, 1_000, 30, 0);
            assert!(cache.len() <= CAPACITY);
        }
        assert!(cache.len() > CAPACITY / 2);
        assert_eq!(
            cache.get(&format!("u{}", CAPACITY - 1), 1_000, 30),
            Some(claims("a")),
            "the newest verdict is kept"
        );
    }
}
