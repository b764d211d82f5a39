//! Secrets redacted in whole, cut and malformed bodies, and the cut's marker.

use super::*;

fn json(text: &str) -> String {
    redact(text, false)
}

#[test]
fn a_password_is_redacted_at_any_depth_in_any_case() {
    assert_eq!(
        json(r#"{"userName":"ada","password":"Sup3r-secret"}"#),
        r#"{"userName":"ada","password":"[redacted]"}"#
    );
    assert_eq!(
        json(r#"{"a":[{"b":{"PassWord":"x1"}}],"Password" : 12345}"#),
        r#"{"a":[{"b":{"PassWord":"[redacted]"}}],"Password" : "[redacted]"}"#
    );
    // An escaped key is the same key.
    assert_eq!(
        json(r#"{"pass\u0077ord":"x"}"#),
        r#"{"pass\u0077ord":"[redacted]"}"#
    );
    // A password given as an object loses every value inside.
    assert_eq!(
        json(r#"{"password":{"value":"x","n":[1,"y"]}}"#),
        r#"{"password":{"value":"[redacted]","n":["[redacted]","[redacted]"]}}"#
    );
}

#[test]
fn a_patch_of_the_password_loses_its_value_whichever_comes_first() {
    let patch = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"password","value":"N3w-secret"},{"value":"Also-secret","op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:password"},{"op":"replace","path":"title","value":"Engineer"}]}"#;
    let out = json(patch);
    assert!(
        !out.contains("N3w-secret") && !out.contains("Also-secret"),
        "{out}"
    );
    assert!(out.contains(r#""value":"Engineer""#), "{out}");
    assert_eq!(out.matches(REDACTED).count(), 2, "{out}");
    // Without a path, the password is a key of the value.
    assert_eq!(
        json(r#"{"Operations":[{"op":"replace","value":{"password":"p","active":true}}]}"#),
        r#"{"Operations":[{"op":"replace","value":{"password":"[redacted]","active":true}}]}"#
    );
}

#[test]
fn a_cut_body_is_redacted_up_to_its_end() {
    // Cut inside the password's value.
    assert_eq!(
        json(r#"{"userName":"ada","password":"Sup3r-sec"#),
        r#"{"userName":"ada","password":"[redacted]""#
    );
    // Cut inside a PATCH value whose path came first.
    assert_eq!(
        json(r#"{"Operations":[{"op":"replace","path":"password","value":"N3w-se"#),
        r#"{"Operations":[{"op":"replace","path":"password","value":"[redacted]""#
    );
    // Cut inside a token.
    assert_eq!(json(r#"{"detail":"rst_abc"#), r#"{"detail":"[redacted]"#);
}

#[test]
fn a_body_that_is_not_json_is_redacted_by_shape() {
    let text = r#"{"userName": "ada", "password": "x" "oops" rst_AAAAAAAAAAAAAAAAAAAAAAAAAAAA"#;
    let out = json(text);
    assert!(
        !out.contains(r#""x""#) && !out.contains("rst_AAAA"),
        "{out}"
    );
    assert_eq!(
        redact("Authorization: Bearer abc.def-gh1 here", false),
        "Authorization: Bearer [redacted] here"
    );
}

#[test]
fn a_password_is_redacted_when_a_comma_or_a_colon_is_missing() {
    // A body refused as invalid JSON is stored all the same: its password must not be.
    for (body, kept) in [
        (
            r#"{"userName":"eve@contoso.com" "password":"MalformedPw!9"}"#,
            "eve@contoso.com",
        ),
        (r#"{"userName":"eve","password" "MalformedPw!9"}"#, "eve"),
        (
            r#"{"name":{"givenName":"Eve"} "password":"MalformedPw!9"}"#,
            "Eve",
        ),
        (
            r#"{"emails":[{"value":"e@x.com"}] "password":"MalformedPw!9","active":true}"#,
            "e@x.com",
        ),
        (r#"{"active":true "password":MalformedPw!9}"#, "true"),
    ] {
        let out = json(body);
        assert!(!out.contains("MalformedPw"), "{body} → {out}");
        assert!(
            out.contains(kept) && out.contains(REDACTED),
            "{body} → {out}"
        );
    }
    // A missing comma does not make a value of the next key, nor a key of the next value.
    assert_eq!(
        json(r#"{"password":"x" "userName":"eve"}"#),
        r#"{"password":"[redacted]" "userName":"eve"}"#
    );
}

#[test]
fn bearer_in_a_sentence_is_a_word_not_a_credential() {
    // Roster's own answer to a refused token, as the client received it.
    let detail =
        r#"{"detail":"The bearer token is not valid here. Bearer authentication failed."}"#;
    assert_eq!(json(detail), detail);
    assert_eq!(
        redact("Authorization: Bearer credentials were missing", false),
        "Authorization: Bearer credentials were missing"
    );
    // A credential: long, or with a character no word has, or cut where the body was.
    for (text, out) in [
        (
            r#"{"h":"Bearer abcdefghijklmnopqrstuvwxyz"}"#,
            r#"{"h":"Bearer [redacted]"}"#,
        ),
        (r#"{"h":"Bearer s3cr3tXY"}"#, r#"{"h":"Bearer [redacted]"}"#),
        (r#"{"h":"Bearer abc"#, r#"{"h":"Bearer [redacted]"#),
    ] {
        assert_eq!(json(text), out, "{text}");
    }
}

#[test]
fn a_token_in_the_url_is_redacted() {
    let token = "rst_pgtXHn5aGwcTrvPiu2qr5jtOWQebSDVcLpZJAoL9JbY";
    for (target, out) in [
        (
            format!("count=1&access_token={token}"),
            "count=1&access_token=[redacted]".to_owned(),
        ),
        (
            format!("token={token}&count=1"),
            "token=[redacted]&count=1".to_owned(),
        ),
        (
            "startIndex=1&ACCESS_TOKEN=shortsecret".to_owned(),
            "startIndex=1&ACCESS_TOKEN=[redacted]".to_owned(),
        ),
        (
            format!("filter=userName+eq+%22{token}%22"),
            "filter=userName+eq+%22[redacted]%22".to_owned(),
        ),
        (format!("/Users/{token}"), "/Users/[redacted]".to_owned()),
    ] {
        assert_eq!(stored_target(target.clone()), out, "{target}");
    }
    // What holds no clue is kept as it is.
    for target in [
        "filter=userName+eq+%22ada%40contoso.com%22",
        "/Users/93078bf2-5ef8-43c1-bf79-f8c2d23f3109",
        "attributes=userName,emails&count=100",
    ] {
        assert_eq!(stored_target(target.to_owned()), target);
    }
}

#[test]
fn tokens_are_redacted_wherever_they_appear() {
    let jwt = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiJodHRwczovL2xvZ2luIn0.c2lnbmF0dXJl";
    let text = format!(
        r#"{{"note":"old token rst_pgtXHn5aGwcTrvPiu2qr5jtOWQebSDVcLpZJAoL9JbY, jwt {jwt}","rci":"rci_dfa00e3d0adddc65a8d725a1f92a7205"}}"#
    );
    let out = json(&text);
    assert_eq!(
        out,
        r#"{"note":"old token [redacted], jwt [redacted]","rci":"rci_dfa00e3d0adddc65a8d725a1f92a7205"}"#
    );
    // Names that merely contain a prefix are kept.
    assert_eq!(
        json(r#"{"userName":"first_name@x.com","title":"rat_catcher"}"#),
        r#"{"userName":"first_name@x.com","title":"rat_catcher"}"#
    );
}

#[test]
fn oauth_fields_are_redacted_in_forms_and_json() {
    let form = "grant_type=client_credentials&client_id=rci_dfa00e3d0adddc65a8d725a1f92a7205&client_secret=rcs_z96QvoG4vaiUsHKwfdmocQnTjQw5PWsbCLirLQPq74A&scope=scim";
    assert_eq!(
        redact(form, true),
        "grant_type=client_credentials&client_id=rci_dfa00e3d0adddc65a8d725a1f92a7205&client_secret=[redacted]&scope=scim"
    );
    let assertion = "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=abc.def.ghi&client_id=rci_1";
    assert_eq!(
        redact(assertion, true),
        "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=[redacted]&client_id=rci_1"
    );
    assert_eq!(
        redact(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=x.y.z",
            true
        ),
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=[redacted]"
    );
    // A form sent where JSON was expected is recognised by its shape.
    assert_eq!(
        redact("userName=ada&password=hunter2", false),
        "userName=ada&password=[redacted]"
    );
    assert_eq!(
        json(
            r#"{"access_token":"rat_NfhsjlY5J5exK7VjX-UGUVfOBFTjBL4r-WfFcwRxpcw","token_type":"Bearer","expires_in":3600,"refresh_token":"r"}"#
        ),
        r#"{"access_token":"[redacted]","token_type":"Bearer","expires_in":3600,"refresh_token":"[redacted]"}"#
    );
}

#[test]
fn invalid_utf8_is_replaced() {
    assert_eq!(
        stored_body(b"{\"a\":\"\xff\"}".to_vec(), false),
        "{\"a\":\"\u{fffd}\"}"
    );
}

#[test]
fn a_long_body_is_cut_on_a_character_boundary_with_a_marker() {
    // As the edge passes it: the limit and one byte more.
    let mut body = "é".repeat(BODY_LIMIT).into_bytes();
    body.truncate(BODY_LIMIT + 1);
    let out = stored_body(body, false);
    assert!(
        out.ends_with("… [cut at 16 KiB]"),
        "{}",
        &out[out.len() - 40..]
    );
    let kept = out.trim_end_matches("… [cut at 16 KiB]");
    assert_eq!(kept.len(), BODY_LIMIT);
    assert!(kept.chars().all(|c| c == 'é'));

    // Given whole, its size is known.
    let whole = vec![b'a'; 123_456];
    let out = stored_body(whole, false);
    assert!(
        out.ends_with("… [cut: 123,456 bytes in all]"),
        "{}",
        &out[BODY_LIMIT..]
    );

    // Within the limit, nothing is added.
    assert_eq!(stored_body(b"{}".to_vec(), false), "{}");
    assert_eq!(stored_body(vec![b'a'; BODY_LIMIT], false).len(), BODY_LIMIT);
}

#[test]
fn a_cut_password_near_the_limit_is_not_kept() {
    let mut body = format!(
        r#"{{"displayName":"{}","password":"#,
        "x".repeat(BODY_LIMIT - 40)
    );
    body.push_str(r#""Sup3r-secret-pass-that-runs-past-the-limit"}"#);
    let bytes = &body.as_bytes()[..BODY_LIMIT + 1];
    let out = stored_body(bytes.to_vec(), false);
    assert!(!out.contains("Sup3r"), "{}", &out[out.len() - 80..]);
}

#[test]
fn thousands_are_grouped() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(1_048_576), "1,048,576");
}

/// A clue in any case, anywhere; the search is byte-wise, so text around it may be anything.
#[test]
fn a_clue_is_found_in_any_case() {
    for text in [
        r#"{"PassWord":"x"}"#,
        "Authorization: BEARER abc",
        r#"{"v":"\U0041"}"#,
        "rSt_",
        "é client_SECRET=ü",
        "eYj",
    ] {
        assert!(has_clue(text), "{text}");
    }
    for text in [
        "",
        r#"{"userName":"ada@contoso.com"}"#,
        "pass word",
        "rst-",
        "ey j",
        "é",
    ] {
        assert!(!has_clue(text), "{text}");
    }
}

proptest::proptest! {
    /// The search finds a clue exactly where one is, in any case: the same answer as looking
    /// at every position of the text.
    #[test]
    fn the_clue_search_is_a_case_blind_substring_search(
        text in "[a-zA-Z_\\ \"{}:é]{0,40}|.{0,40}",
    ) {
        let bytes = text.as_bytes();
        let anywhere = CLUES.iter().any(|clue| {
            bytes.windows(clue.len()).any(|w| w.eq_ignore_ascii_case(clue.as_bytes()))
        });
        proptest::prop_assert_eq!(has_clue(&text), anywhere);
    }

    /// In a body of the length identity providers send (long enough for the vectorised
    /// search, which short text does not reach), a clue is found wherever it is and in any
    /// case, and nothing else is taken for one.
    #[test]
    fn a_clue_in_a_long_body_is_found_wherever_it_is(
        before in "[a-z0-9_\\ \"{}:,.@é-]{0,700}",
        after in "[a-z0-9_\\ \"{}:,.@é-]{0,700}",
        clue in proptest::option::of(proptest::sample::select(CLUES.to_vec())),
        upper in proptest::collection::vec(proptest::bool::ANY, 9),
    ) {
        let clue: String = clue
            .unwrap_or("")
            .chars()
            .zip(upper.iter().chain(std::iter::repeat(&false)))
            .map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c })
            .collect();
        let text = format!("{before}{clue}{after}");
        let bytes = text.as_bytes();
        let anywhere = CLUES.iter().any(|clue| {
            bytes.windows(clue.len()).any(|w| w.eq_ignore_ascii_case(clue.as_bytes()))
        });
        proptest::prop_assert!(clue.is_empty() || anywhere);
        proptest::prop_assert_eq!(has_clue(&text), anywhere);
    }

    /// A body without any of the clues holds no secret: the scan would change nothing, so
    /// skipping it (as `redact` does) loses nothing. The bodies are made of JSON's and forms'
    /// punctuation, words, and pieces of every clue, so that near misses are tried too.
    #[test]
    fn a_body_without_clues_is_what_the_scan_keeps(parts in proptest::collection::vec(
        proptest::sample::select(vec![
            "{", "}", "[", "]", "\"", ":", ",", " ", "=", "&", "\\", "u0077", "value", "path",
            "op", "pass", "word", "PASS", "Word", "sec", "ret", "client_", "token", "tok", "en",
            "id_", "access_", "assert", "ion", "Bear", "er ", "eyJ", "ey", "J", "rst", "_", "rat",
            "rcs", "rsk", "rpl", "roi", "abcdefghijklmnopq", "ada@contoso.com", "12", "true",
        ]),
        0..40,
    )) {
        let text: String = parts.concat();
        if !has_clue(&text) {
            proptest::prop_assert_eq!(scanned(&text, false, false), text.clone());
            proptest::prop_assert_eq!(redact(&text, false), text);
        }
    }
}

/// What a review found could slip through, each once a leak.
#[test]
fn malformed_json_keeps_no_password() {
    for body in [
        // Unquoted, single-quoted keys and values; a comment before the key.
        r#"{userName:"ada",password:"Sup3r-secret"}"#,
        r#"{'password':'Sup3r-secret'}"#,
        r#"{'userName':'ada', 'password':'Sup3r secret words'}"#,
        r#"{/*c*/"password":"Sup3r-secret"}"#,
        // A stray closing bracket closes nothing.
        r#"{"emails":[{"value":"a@x.com"}]],"password":"Sup3r-secret"}"#,
        // A byte-order mark before the JSON.
        "\u{feff}{\"password\":\"Sup3r-secret\"}",
        // A duplicated value of an operation on the password.
        r#"{"Operations":[{"op":"replace","path":"password","value":"Sup3r-secret","value":"x"}]}"#,
        // A body encoded twice.
        r#"{"data":"{\"password\":\"Sup3r-secret\"}"}"#,
    ] {
        let out = json(body);
        assert!(!out.contains("Sup3r"), "{body} → {out}");
    }
    // A PATCH cut inside its path, after its value.
    let cut = r#"{"Operations":[{"op":"replace","value":"Sup3r-secret","path":"pass"#;
    assert!(!json(cut).contains("Sup3r"), "{}", json(cut));
    // A path that merely starts like it, whole, is not the password.
    assert!(
        json(r#"{"Operations":[{"op":"replace","value":"Engineer","path":"pass"}],"x":"rst_"}"#)
            .contains("Engineer")
    );
}

#[test]
fn credentials_are_found_after_escapes_and_in_other_spellings() {
    let token = "rst_pgtXHn5aGwcTrvPiu2qr5jtOWQebSDVcLpZJAoL9JbY";
    for body in [
        format!(r#"{{"note":"first line\n{token}"}}"#),
        format!(r#"{{"note":"\t{token}"}}"#),
        r#"{"h":"Bearer \"s3cr3t-opaque-value-123\""}"#.to_owned(),
        r#"{"h":"Bearer ab\/cdefghijklmnopqrstuvwxyz0123"}"#.to_owned(),
    ] {
        let out = json(&body);
        assert!(
            !out.contains("pgtXHn5a") && !out.contains("s3cr3t") && !out.contains("cdefghij"),
            "{body} → {out}"
        );
    }
    // Spelt with a JSON escape: the whole string goes.
    assert_eq!(
        json(r#"{"note":"rst\u005fpgtXHn5aGwcTrvPiu2qr5jtOWQebSDVcLpZJAoL9JbY","n":"caf\u00e9"}"#),
        r#"{"note":"[redacted]","n":"caf\u00e9"}"#
    );
    assert_eq!(
        redact("Authorization: Bearer\ts3cr3t-opaque-value-123", false),
        "Authorization: Bearer\t[redacted]"
    );
    for (target, secret) in [
        ("authorization=Bearer+s3cr3t-opaque-value-123", "s3cr3t"),
        ("authorization=Bearer%20s3cr3t-opaque-value-123", "s3cr3t"),
        ("p%61ssword=hunter2", "hunter2"),
        ("%74oken=s3cr3t-value-123", "s3cr3t"),
        (
            "/Users/rst%5FpgtXHn5aGwcTrvPiu2qr5jtOWQebSDVcLpZJAoL9JbY",
            "pgtXHn5a",
        ),
        ("filter=password+eq+%22Sup3r-secret%22", "Sup3r"),
        (
            "filter=PASSWORD%20ne%20%22Sup3r-secret%22%20and%20active%20eq%20true",
            "Sup3r",
        ),
    ] {
        let out = stored_target(target.to_owned());
        assert!(!out.contains(secret), "{target} → {out}");
        assert!(out.contains(REDACTED), "{target} → {out}");
    }
}

#[test]
fn a_filter_on_the_password_loses_the_value_it_compares() {
    // In the answer's words, a search body's filter, plain text.
    assert_eq!(
        json(r#"{"detail":"invalid filter \"password eq \\\"Sup3r-secret\\\"\" at position 0"}"#),
        r#"{"detail":"invalid filter \"password eq [redacted]\" at position 0"}"#
    );
    assert_eq!(
        json(r#"{"filter":"userName eq \"ada\" and password sw \"Sup\""}"#),
        r#"{"filter":"userName eq \"ada\" and password sw [redacted]"}"#
    );
    assert_eq!(
        redact("password eq Sup3r-secret and x", false),
        "password eq [redacted] and x"
    );
    // A password attribute that is not compared keeps its words around it.
    assert_eq!(
        json(r#"{"detail":"password is never returned, so it cannot be filtered on"}"#),
        r#"{"detail":"password is never returned, so it cannot be filtered on"}"#
    );
}

#[test]
fn ordinary_words_after_bearer_are_kept() {
    for text in [
        r#"{"detail":"This endpoint requires Bearer authentication."}"#,
        r#"{"detail":"Use Bearer token-based auth"}"#,
    ] {
        assert_eq!(json(text), text);
    }
    // A whole plain-text body is not cut: its last word is a word.
    assert_eq!(
        redact("Missing Bearer token", false),
        "Missing Bearer token"
    );
    assert_eq!(
        redact_cut("Missing Bearer tok"),
        "Missing Bearer [redacted]"
    );
}
