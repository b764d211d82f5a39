use super::*;
use proptest::prelude::*;
use time::macros::datetime;

fn entry(n: i64, outcome: Outcome, scim_type: Option<&str>) -> LogEntry {
    LogEntry {
        seq: 0,
        tenant_id: TenantId::new("t"),
        at: datetime!(2024-01-01 0:00 UTC) + time::Duration::microseconds(n * 1_000_001),
        request_id: format!("req-{n}"),
        duration_ms: n * 3,
        method: "PATCH".into(),
        path: format!("/Users/u-{n}"),
        query: "filter=userName%20eq%20%22x%22".into(),
        status: 400,
        scim_type: scim_type.map(str::to_owned),
        outcome,
        client: "entra".into(),
        user_agent: "Azure AD SCIM".into(),
        credential: "token \"Entra\" …q9Zc".into(),
        action: "update".into(),
        resource_type: "User".into(),
        resource_id: format!("u-{n}"),
        resource_name: format!("Ada{n}@Contoso.com"),
        summary: "Refused: “active” was a string".into(),
        explanation: "line\nbreak ü".into(),
        hint: String::new(),
        normalizations: vec!["entra-bool-strings".into(), "okta-empty-emails".into()],
        request_body: "{\"a\": 1}".into(),
        response_body: String::new(),
    }
}

fn round_trip(entries: &[LogEntry], rids: &[Option<i64>]) -> Vec<LogEntry> {
    let (compressed, raw) = (
        round_trip_as(entries, rids, |p| encode(p).expect("encoded")),
        round_trip_as(entries, rids, encode_raw),
    );
    assert_eq!(
        compressed, raw,
        "a raw body (as written before) reads the same"
    );
    compressed
}

fn round_trip_as(
    entries: &[LogEntry],
    rids: &[Option<i64>],
    encode: impl Fn(&[Pending<'_>]) -> Block,
) -> Vec<LogEntry> {
    let keys: Vec<String> = entries
        .iter()
        .map(|e| e.resource_name.to_lowercase())
        .collect();
    let pending: Vec<Pending<'_>> = entries
        .iter()
        .zip(&keys)
        .zip(rids)
        .enumerate()
        .map(|(n, ((entry, key), rid))| Pending {
            entry,
            seq: 100 + n as i64 * 2,
            key,
            rid: *rid,
        })
        .collect();
    let block = encode(&pending);
    let heads = heads(&block.heads).expect("heads");
    assert_eq!(heads.len(), entries.len());
    for (head, (key, rid)) in heads.iter().zip(keys.iter().zip(rids)) {
        assert_eq!((&head.key, head.rid), (key, *rid));
    }
    heads
        .iter()
        .zip(parts(&block.body, &heads).expect("the parts"))
        .map(|(h, part)| h.entry(&TenantId::new("t"), &part).expect("an entry"))
        .collect()
}

#[test]
fn entries_come_back_as_they_went_in_with_their_seq() {
    let entries = vec![
        entry(1, Outcome::Refused, Some("invalidValue")),
        entry(2, Outcome::Succeeded, None),
        entry(3, Outcome::Failed, Some("")),
    ];
    let back = round_trip(&entries, &[Some(-5), None, Some(i64::MAX)]);
    for (n, (went, came)) in entries.iter().zip(&back).enumerate() {
        let mut expected = went.clone();
        expected.seq = 100 + n as i64 * 2;
        assert_eq!(came, &expected);
    }
}

#[test]
fn a_block_counts_its_outcomes_and_bounds_its_seqs_and_times() {
    let entries = [
        entry(5, Outcome::Refused, None),
        entry(2, Outcome::Failed, None),
        entry(9, Outcome::Succeeded, None),
    ];
    let pending: Vec<Pending<'_>> = entries
        .iter()
        .enumerate()
        .map(|(n, entry)| Pending {
            entry,
            seq: 7 + n as i64,
            key: "",
            rid: None,
        })
        .collect();
    let block = encode(&pending).expect("encoded");
    assert_eq!((block.first_seq, block.last_seq), (7, 9));
    assert_eq!((block.total, block.refused, block.failed), (3, 1, 1));
    assert_eq!(block.min_at, micros(entries[1].at));
    assert_eq!(block.max_at, micros(entries[2].at));
}

#[test]
fn a_damaged_or_unknown_block_is_an_error_not_a_guess() {
    let e = entry(1, Outcome::Succeeded, None);
    let block = encode(&[Pending {
        entry: &e,
        seq: 1,
        key: "k",
        rid: Some(1),
    }])
    .expect("encoded");
    let mut other = block.heads.clone();
    other[0] = 9;
    assert!(heads(&other).unwrap_err().to_string().contains("format 9"));
    let cut = &block.heads[..block.heads.len() - 1];
    assert!(heads(cut).is_err());
    assert!(heads(&[]).is_err());
    let head = &heads(&block.heads).expect("heads")[0];
    let one = std::slice::from_ref(head);
    assert!(parts(&block.body[..block.body.len() - 1], one).is_err());
    let mut unknown = block.body.clone();
    unknown[0] = 9;
    assert!(
        parts(&unknown, one)
            .unwrap_err()
            .to_string()
            .contains("format 9")
    );
    let mut outcome = block.heads.clone();
    outcome[1 + 8 + 8 + 1 + 8] = 7;
    assert!(heads(&outcome).is_err());
}

#[test]
fn a_head_passes_the_filters_as_the_sql_ones_did() {
    let e = entry(10, Outcome::Refused, None);
    let block = encode(&[Pending {
        entry: &e,
        seq: 50,
        key: "ada10@contoso.com",
        rid: Some(1),
    }])
    .expect("encoded");
    let head = &heads(&block.heads).expect("heads")[0];
    let q = |f: &dyn Fn(&mut LogQuery)| {
        let mut query = LogQuery::default();
        f(&mut query);
        head.passes(&query)
    };
    assert!(q(&|_| ()));
    assert!(q(&|q| q.before = Some(51)) && !q(&|q| q.before = Some(50)));
    assert!(q(&|q| q.after = Some(49)) && !q(&|q| q.after = Some(50)));
    assert!(
        !q(&|q| (q.after, q.before) = (Some(50), Some(99))),
        "after wins"
    );
    assert!(q(&|q| q.outcome = Some(Outcome::Refused)));
    assert!(!q(&|q| q.outcome = Some(Outcome::Failed)));
    assert!(q(&|q| q.action = Some("update".into())) && !q(&|q| q.action = Some("get".into())));
    assert!(q(&|q| q.client = Some("entra".into())) && !q(&|q| q.client = Some("okta".into())));
    assert!(q(&|q| q.since = Some(e.at)) && !q(&|q| q.until = Some(e.at)));
    let later = e.at + time::Duration::microseconds(1);
    assert!(!q(&|q| q.since = Some(later)) && q(&|q| q.until = Some(later)));
    assert!(head.about("u-10", "x") && head.about("x", "ada10@contoso.com"));
    assert!(!head.about("U-10", "ada@contoso.com"));
}

/// A block's `kinds` have the bit of each outcome, action and client its entries have, and no
/// other: a page asking for any of them reads the block, a page asking for another passes it.
#[test]
fn a_blocks_kinds_are_what_its_entries_are() {
    let mut a = entry(1, Outcome::Succeeded, None);
    (a.action, a.client) = ("get".into(), "entra".into());
    let mut b = entry(2, Outcome::Refused, None);
    (b.action, b.client) = ("create".into(), "someone-new".into());
    let pending: Vec<Pending<'_>> = [&a, &b]
        .into_iter()
        .enumerate()
        .map(|(n, entry)| Pending {
            entry,
            seq: n as i64 + 1,
            key: "k",
            rid: None,
        })
        .collect();
    let kinds = encode(&pending).expect("encoded").kinds;
    let asks = |outcome: Option<Outcome>, action: Option<&str>, client: Option<&str>| LogQuery {
        outcome,
        action: action.map(str::to_owned),
        client: client.map(str::to_owned),
        ..LogQuery::default()
    };
    let held = |q: &LogQuery| kinds & needed(q) == needed(q);
    for q in [
        asks(None, None, None),
        asks(Some(Outcome::Succeeded), Some("get"), Some("entra")),
        asks(Some(Outcome::Refused), Some("create"), None),
        asks(None, None, Some("someone-new")),
        // Any client the log does not name shares one bit: the block is read, for nothing.
        asks(None, None, Some("another")),
    ] {
        assert!(held(&q), "{q:?}");
    }
    for q in [
        asks(Some(Outcome::Failed), None, None),
        asks(None, Some("delete"), None),
        asks(None, None, Some("okta")),
        asks(None, Some("frobnicate"), None),
    ] {
        assert!(!held(&q), "{q:?}");
    }
    // Every value the log names has a bit of its own.
    let mut bits: Vec<i64> = [Outcome::Succeeded, Outcome::Refused, Outcome::Failed]
        .into_iter()
        .map(outcome_mark)
        .chain(ACTIONS.iter().chain(["x"].iter()).map(|a| action_mark(a)))
        .chain(CLIENTS.iter().chain(["x"].iter()).map(|c| client_mark(c)))
        .collect();
    let n = bits.len();
    bits.sort_unstable();
    bits.dedup();
    assert_eq!(bits.len(), n);
    assert!(bits.iter().all(|b| *b > 0));
}

#[test]
fn one_head_is_found_by_its_seq_without_reading_the_others() {
    let entries: Vec<LogEntry> = (0..5).map(|n| entry(n, Outcome::Succeeded, None)).collect();
    let pending: Vec<Pending<'_>> = entries
        .iter()
        .enumerate()
        .map(|(n, entry)| Pending {
            entry,
            seq: 10 + 2 * n as i64,
            key: "k",
            rid: Some(n as i64),
        })
        .collect();
    let block = encode(&pending).expect("encoded");
    let all = heads(&block.heads).expect("heads");
    for head in &all {
        assert_eq!(
            head_of(&block.heads, head.seq).expect("a look").as_ref(),
            Some(head)
        );
    }
    for absent in [9, 11, 19, 30] {
        assert_eq!(
            head_of(&block.heads, absent).expect("a look"),
            None,
            "{absent}"
        );
    }
    assert!(head_of(&block.heads[..block.heads.len() - 3], 18).is_err());
}

proptest! {
    #[test]
    fn any_text_comes_back(texts in proptest::collection::vec(".{0,40}", 6), status in any::<u16>()) {
        let mut e = entry(1, Outcome::Succeeded, None);
        e.summary = texts[0].clone();
        e.request_body = texts[1].clone();
        e.response_body = texts[2].clone();
        e.action = texts[3].clone();
        e.resource_id = texts[4].clone();
        e.scim_type = Some(texts[5].clone());
        e.status = status;
        e.normalizations = vec![];
        let back = round_trip(std::slice::from_ref(&e), &[None]);
        e.seq = 100;
        prop_assert_eq!(&back[0], &e);
    }
}
