//! Bearer verification against a real issuer served over HTTP on 127.0.0.1.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use desk_auth::{
    AccessTokenSpec, AuthError, BearerVerifier, LocalIssuer, OidcSettings, RunningIssuer,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const CLIENT: &str = "desk";

async fn start() -> RunningIssuer {
    LocalIssuer::new()
        .serve("127.0.0.1:0".parse().unwrap())
        .await
        .expect("issuer starts")
}

fn verifier(issuer_url: &str) -> BearerVerifier {
    BearerVerifier::new(
        OidcSettings {
            issuer: issuer_url.to_owned(),
            audience: CLIENT.to_owned(),
            client_id: CLIENT.to_owned(),
        },
        reqwest::Client::new(),
    )
    .expect("loopback http issuer is allowed")
}

fn spec(running: &RunningIssuer) -> AccessTokenSpec {
    AccessTokenSpec::new(&running.url, CLIENT, "user-1")
}

fn claims(running: &RunningIssuer) -> Value {
    running.issuer().access_token_claims(&spec(running))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// Verifies and checks that the error message never echoes the token.
async fn reject(verifier: &BearerVerifier, token: &str) -> AuthError {
    let err = verifier
        .verify(token)
        .await
        .expect_err("token must be refused");
    let shown = format!("{err} {err:?}");
    for part in token.split('.').filter(|p| p.len() > 8) {
        assert!(!shown.contains(part), "error leaks the token: {shown}");
    }
    err
}

#[tokio::test]
async fn valid_token_is_accepted_with_roles_mapped_and_keys_cached() {
    let running = start().await;
    let verifier = verifier(&running.url);
    let token = running.issuer().access_token(
        &running.url,
        &[CLIENT, "account"],
        CLIENT,
        "4a0c-sub",
        Some("ada@example.org"),
        true,
        Some("Ada"),
        Some("Lovelace"),
        &["staff", "superuser", "unrelated"],
        Duration::from_secs(300),
    );

    let identity = verifier.verify(&token).await.expect("valid token");
    assert_eq!(identity.issuer, running.url);
    assert_eq!(identity.subject, "4a0c-sub");
    assert_eq!(identity.email.as_deref(), Some("ada@example.org"));
    assert!(identity.email_verified);
    assert_eq!(identity.first_name.as_deref(), Some("Ada"));
    assert_eq!(identity.last_name.as_deref(), Some("Lovelace"));
    assert!(identity.is_staff);
    assert!(identity.is_superuser);
    assert_eq!(running.jwks_fetch_count(), 1);

    // Cached: no further fetch. A plain token: string `aud`, no roles, no profile claims.
    let plain = running.issuer().access_token_for(&spec(&running));
    let identity = verifier.verify(&plain).await.expect("valid token");
    assert_eq!(identity.subject, "user-1");
    assert_eq!(identity.email, None);
    assert!(!identity.email_verified);
    assert!(!identity.is_staff && !identity.is_superuser);
    assert_eq!(running.jwks_fetch_count(), 1);
}

#[tokio::test]
async fn roles_of_other_clients_are_ignored() {
    let running = start().await;
    let verifier = verifier(&running.url);
    let mut c = claims(&running);
    c["resource_access"] = json!({ "other-client": { "roles": ["staff", "superuser"] } });
    let identity = verifier.verify(&running.issuer().sign(&c)).await.unwrap();
    assert!(!identity.is_staff && !identity.is_superuser);
}

#[tokio::test]
async fn concurrent_first_requests_fetch_the_jwks_once() {
    let running = start().await;
    let verifier = Arc::new(verifier(&running.url));
    let token = running.issuer().access_token_for(&spec(&running));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let verifier = verifier.clone();
            let token = token.clone();
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("valid token");
    }
    assert_eq!(running.jwks_fetch_count(), 1);
}

#[tokio::test]
async fn token_signed_by_another_key_with_the_same_kid_is_refused() {
    let running = start().await;
    let verifier = verifier(&running.url);
    let impostor = LocalIssuer::with_kid(running.issuer().kid());
    let token = impostor.sign(&claims(&running));
    assert_eq!(reject(&verifier, &token).await, AuthError::BadSignature);
}

#[tokio::test]
async fn alg_none_is_refused_without_contacting_the_issuer() {
    let running = start().await;
    let verifier = verifier(&running.url);
    let header = json!({ "alg": "none", "typ": "JWT", "kid": running.issuer().kid() });
    let token = format!("{}.{}.", b64(&header), b64(&claims(&running)));
    assert_eq!(
        reject(&verifier, &token).await,
        AuthError::UnsupportedAlgorithm("none".into())
    );
    assert_eq!(running.jwks_fetch_count(), 0);
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let running = start().await;
    let verifier = verifier(&running.url);
    // The classic confusion attack: HMAC keyed with the issuer's public key material.
    let public_key = serde_json::to_vec(&running.issuer().jwks()["keys"][0]).unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(running.issuer().kid());
    let token = jsonwebtoken::encode(
        &header,
        &claims(&running),
        &EncodingKey::from_secret(&public_key),
    )
    .unwrap();
    assert_eq!(
        reject(&verifier, &token).await,
        AuthError::UnsupportedAlgorithm("HS256".into())
    );
    assert_eq!(running.jwks_fetch_count(), 0);
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    let running = start().await;
    let verifier = verifier(&running.url);
    for iss in [
        json!("http://127.0.0.1:1/realms/other"),
        json!(format!("{}/", running.url)), // compared exactly
        Value::Null,
    ] {
        let mut c = claims(&running);
        if iss.is_null() {
            c.as_object_mut().unwrap().remove("iss");
        } else {
            c["iss"] = iss;
        }
        let token = running.issuer().sign(&c);
        assert_eq!(reject(&verifier, &token).await, AuthError::WrongIssuer);
    }
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    let running = start().await;
    let verifier = verifier(&running.url);
    for aud in [json!("account"), json!(["account", "other"]), Value::Null] {
        let mut c = claims(&running);
        if aud.is_null() {
            c.as_object_mut().unwrap().remove("aud");
        } else {
            c["aud"] = aud;
        }
        let token = running.issuer().sign(&c);
        assert_eq!(reject(&verifier, &token).await, AuthError::WrongAudience);
    }
}

#[tokio::test]
async fn expired_token_is_refused_beyond_the_leeway() {
    let running = start().await;
    let verifier = verifier(&running.url);
    let mut c = claims(&running);
    c["iat"] = json!(now() - 600);
    c["nbf"] = json!(now() - 600);
    c["exp"] = json!(now() - 120);
    assert_eq!(
        reject(&verifier, &running.issuer().sign(&c)).await,
        AuthError::Expired
    );

    // Within the 30 s leeway: clock skew is tolerated.
    c["exp"] = json!(now() - 10);
    verifier.verify(&running.issuer().sign(&c)).await.unwrap();
}

#[tokio::test]
async fn token_not_yet_valid_is_refused() {
    let running = start().await;
    let verifier = verifier(&running.url);
    let mut c = claims(&running);
    c["nbf"] = json!(now() + 120);
    c["exp"] = json!(now() + 600);
    assert_eq!(
        reject(&verifier, &running.issuer().sign(&c)).await,
        AuthError::NotYetValid
    );
}

#[tokio::test]
async fn missing_exp_or_sub_is_refused() {
    let running = start().await;
    let verifier = verifier(&running.url);
    for (claim, expected) in [
        ("exp", AuthError::MissingClaim("exp")),
        ("sub", AuthError::MissingClaim("sub")),
    ] {
        let mut c = claims(&running);
        c.as_object_mut().unwrap().remove(claim);
        assert_eq!(
            reject(&verifier, &running.issuer().sign(&c)).await,
            expected
        );
    }
}

#[tokio::test]
async fn malformed_tokens_are_refused() {
    let running = start().await;
    let verifier = verifier(&running.url);
    for token in ["", "abc", "a.b", "a.b.c.d", "!!!.e30.", "e30.e30.sig"] {
        assert!(matches!(
            reject(&verifier, token).await,
            AuthError::Malformed(_)
        ));
    }
    assert_eq!(running.jwks_fetch_count(), 0);
}

#[tokio::test]
async fn unknown_kid_refreshes_once_then_is_rate_limited() {
    let running = start().await;
    let verifier = verifier(&running.url);
    let good = running.issuer().access_token_for(&spec(&running));
    verifier.verify(&good).await.unwrap();
    assert_eq!(running.jwks_fetch_count(), 1);

    let stranger = LocalIssuer::new();
    let token = stranger.sign(&claims(&running));
    assert_eq!(reject(&verifier, &token).await, AuthError::UnknownKey);
    assert_eq!(
        running.jwks_fetch_count(),
        2,
        "one refresh for the unknown kid"
    );

    let another = LocalIssuer::new().sign(&claims(&running));
    assert_eq!(reject(&verifier, &another).await, AuthError::UnknownKey);
    assert_eq!(reject(&verifier, &token).await, AuthError::UnknownKey);
    assert_eq!(running.jwks_fetch_count(), 2, "no refresh within 60 s");

    // Known keys keep working meanwhile.
    verifier.verify(&good).await.unwrap();
    assert_eq!(running.jwks_fetch_count(), 2);
}

#[tokio::test]
async fn rotated_key_is_accepted_after_one_refresh() {
    let running = start().await;
    let verifier = verifier(&running.url);
    let old = running.issuer().access_token_for(&spec(&running));
    verifier.verify(&old).await.unwrap();
    assert_eq!(running.jwks_fetch_count(), 1);

    running.issuer().rotate();
    let new = running.issuer().access_token_for(&spec(&running));
    verifier
        .verify(&new)
        .await
        .expect("new key found by refresh");
    assert_eq!(running.jwks_fetch_count(), 2);

    // Both keys are now cached; no more fetches.
    verifier.verify(&old).await.unwrap();
    verifier.verify(&new).await.unwrap();
    assert_eq!(running.jwks_fetch_count(), 2);
}

#[tokio::test]
async fn unreachable_issuer_is_a_distinct_error() {
    let running = start().await;
    let url = running.url.clone();
    let token = running.issuer().access_token_for(&spec(&running));
    running.stop().await;

    let verifier = verifier(&url);
    let err = reject(&verifier, &token).await;
    assert!(
        matches!(err, AuthError::IssuerUnreachable(_)),
        "got {err:?}"
    );
    assert!(err.is_unavailable());
    assert!(!AuthError::UnknownKey.is_unavailable());
}

#[tokio::test]
async fn cached_keys_survive_an_issuer_outage() {
    let running = start().await;
    let verifier = verifier(&running.url);
    let token = running.issuer().access_token_for(&spec(&running));
    verifier.verify(&token).await.unwrap();
    running.stop().await;
    verifier
        .verify(&token)
        .await
        .expect("verified from the cache");
}

#[tokio::test]
async fn discovery_document_is_keycloak_shaped() {
    let running = start().await;
    assert!(running.url.starts_with("http://127.0.0.1:"));
    assert!(running.url.ends_with("/realms/desk"));
    let doc: Value = reqwest::get(format!("{}/.well-known/openid-configuration", running.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], running.url.as_str());
    assert_eq!(
        doc["jwks_uri"],
        format!("{}/protocol/openid-connect/certs", running.url)
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    assert_eq!(running.jwks_fetch_count(), 0);
}

#[tokio::test]
async fn a_verified_token_is_remembered_until_the_keys_change() {
    let running = start().await;
    let verifier = verifier(&running.url);
    let old = running.issuer().access_token_for(&spec(&running));
    let first = verifier.verify(&old).await.unwrap();
    assert_eq!(verifier.verified_tokens(), 1);
    // The second check is answered from the cache, with the same claims.
    assert_eq!(verifier.verify(&old).await.unwrap(), first);
    assert_eq!(verifier.verified_tokens(), 1);
    assert_eq!(running.jwks_fetch_count(), 1);

    // The issuer rotates and withdraws the old key; a new token makes us load the JWKS.
    running.issuer().rotate();
    running.issuer().retire_previous_key();
    let new = running.issuer().access_token_for(&spec(&running));
    verifier
        .verify(&new)
        .await
        .expect("new key found by refresh");
    assert_eq!(running.jwks_fetch_count(), 2);
    // The remembered verdict went with the old keys: the old token is refused now, as it
    // would be without the cache.
    assert_eq!(reject(&verifier, &old).await, AuthError::UnknownKey);
    verifier.verify(&new).await.unwrap();
}

#[tokio::test]
async fn a_remembered_token_is_still_refused_once_expired() {
    let running = start().await;
    let verifier = verifier(&running.url);
    let mut claims = claims(&running);
    // Expires within the leeway: accepted now, and remembered.
    claims["exp"] = json!(now() - (desk_auth::LEEWAY_SECS as i64) + 2);
    let token = running.issuer().sign(&claims);
    verifier.verify(&token).await.expect("inside the leeway");
    assert_eq!(verifier.verified_tokens(), 1);
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    assert_eq!(reject(&verifier, &token).await, AuthError::Expired);
}
