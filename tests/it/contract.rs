//! The fake Discord's contract check (`support/contract.rs`) on requests Discord takes and
//! requests it refuses: a check that passed everything would hold nothing.

use serde_json::json;

use crate::support::discord::contract::check;

const MESSAGES: &str = "/api/v10/channels/100/messages";

#[test]
fn what_discord_takes_passes() {
    let message = json!({
        "content": "뉴스",
        "embeds": [{ "title": "t", "description": "d", "url": "https://example.com/" }],
        "allowed_mentions": { "parse": [] },
        "nonce": "1-0",
        "enforce_nonce": true,
    });
    assert_eq!(check("POST", MESSAGES, None, Some(&message)), Ok(()));
    assert_eq!(
        check("GET", MESSAGES, Some("limit=100&after=1"), None),
        Ok(())
    );
    let deferral = json!({ "type": 5, "data": { "flags": 64 } });
    assert_eq!(
        check(
            "POST",
            "/api/v10/interactions/1/token/callback",
            None,
            Some(&deferral)
        ),
        Ok(())
    );
}

#[test]
fn what_discord_refuses_is_a_violation() {
    let eleven: Vec<_> = (0..11).map(|_| json!({ "description": "d" })).collect();
    let refused = [
        check("POST", "/api/v10/channels/100/posts", None, None),
        check("DELETE", "/api/v10/gateway", None, None),
        check("GET", MESSAGES, Some("count=5"), None),
        check("POST", MESSAGES, None, Some(&json!({ "embeds": eleven }))),
        check(
            "POST",
            MESSAGES,
            None,
            Some(&json!({ "content": "가".repeat(2001) })),
        ),
        check(
            "POST",
            MESSAGES,
            None,
            Some(&json!({ "allowed_mentions": { "parse": ["all"] } })),
        ),
    ];
    for (i, verdict) in refused.iter().enumerate() {
        assert!(verdict.is_err(), "case {i} passed");
    }
}
