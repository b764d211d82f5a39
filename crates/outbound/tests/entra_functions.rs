//! The expression functions against the examples of Microsoft's documentation ("Reference for
//! writing expressions for attribute mappings in Microsoft Entra Application Provisioning"):
//! each row is the documented expression, its inputs and its documented output. Rows marked
//! "rule" follow a rule the page states without an example of its own.

use std::collections::HashMap;

use roster_outbound::expr::{Env, EvalError, Value, evaluate, parse};
use time::OffsetDateTime;
use time::macros::datetime;

struct Fixture {
    attributes: HashMap<String, Value>,
    taken: Vec<String>,
    counter: u64,
}

impl Env for Fixture {
    fn attribute(&self, name: &str) -> Value {
        self.attributes.get(name).cloned().unwrap_or(Value::Null)
    }
    fn now(&self) -> OffsetDateTime {
        datetime!(2021-07-02 15:33:38 UTC)
    }
    fn random(&mut self, out: &mut [u8]) {
        // splitmix64: a test's own deterministic stream.
        for b in out {
            self.counter = self.counter.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.counter;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            *b = (z ^ (z >> 31)).to_le_bytes()[0];
        }
    }
    fn is_unique(&mut self, value: &str) -> bool {
        !self.taken.iter().any(|t| t == value)
    }
}

fn fixture(inputs: &[(&str, &str)]) -> Fixture {
    Fixture {
        attributes: inputs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::One((*v).to_owned())))
            .collect(),
        taken: Vec::new(),
        counter: 1,
    }
}

fn run(expression: &str, inputs: &[(&str, &str)]) -> Result<Value, EvalError> {
    let parsed = parse(expression).unwrap_or_else(|e| panic!("{expression}: {e}"));
    evaluate(&parsed, &mut fixture(inputs))
}

fn text(expression: &str, inputs: &[(&str, &str)]) -> String {
    match run(expression, inputs).unwrap_or_else(|e| panic!("{expression}: {e}")) {
        Value::One(s) => s,
        Value::Null => "<null>".to_owned(),
        Value::Many(v) => format!("{v:?}"),
    }
}

/// An expression, its inputs, and its documented output.
type Row<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn documented_examples() {
    let rows: &[Row] = &[
        // Append
        (
            r#"Append([userPrincipalName], ".test")"#,
            &[("userPrincipalName", "John.Doe@contoso.com")],
            "John.Doe@contoso.com.test",
        ),
        (
            "Append(Mid([givenName], 1, 3), Mid([surname], 1, 5))",
            &[("givenName", "John"), ("surname", "Doe")],
            "JohDoe",
        ),
        // Coalesce
        (
            "Coalesce([mail],[userPrincipalName])",
            &[("userPrincipalName", "John.Doe@contoso.com")],
            "John.Doe@contoso.com",
        ),
        // FormatDateTime
        (
            r#"FormatDateTime([extensionAttribute1], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")"#,
            &[("extensionAttribute1", "20150123105347.1Z")],
            "2015-01-23",
        ),
        (
            r#"FormatDateTime([ContractEndDate], ,"yyyy-MM-ddzzz", "yyyy-MM-dd")"#,
            &[("ContractEndDate", "2020-12-31-08:00")],
            "2020-12-31",
        ),
        (
            r#"FormatDateTime([endDate], ,"M/d/yyyy hh:mm:ss tt","yyyy-MM-dd")"#,
            &[("endDate", "7/2/2021 03:33:38 PM")],
            "2021-07-02",
        ),
        // IIF
        (
            r#"IIF([country]="USA",[country],[department])"#,
            &[("country", "USA"), ("department", "Sales")],
            "USA",
        ),
        (
            r#"IIF([country]="USA",[country],[department])"#,
            &[("country", "France"), ("department", "Sales")],
            "Sales",
        ),
        (
            r#"IIF([country]="USA",IIF([state]="CA","True","False"),"False")"#,
            &[("country", "USA"), ("state", "CA")],
            "True",
        ),
        (
            r#"IIF([country]="USA","True",IIF([state]="CA","True","False"))"#,
            &[("country", "Canada"), ("state", "CA")],
            "True",
        ),
        (
            r#"IIF([country]="USA","True",IIF([state]="CA","True","False"))"#,
            &[("country", "Canada"), ("state", "BC")],
            "False",
        ),
        // IsNull, IsNullOrEmpty, IsPresent (rule)
        ("IsNull([displayName])", &[], "True"),
        ("IsNull([displayName])", &[("displayName", "")], "False"),
        (
            "IsNullOrEmpty([displayName])",
            &[("displayName", "")],
            "True",
        ),
        ("IsNullOrEmpty([displayName])", &[], "True"),
        (
            "IsPresent([displayName])",
            &[("displayName", "Ada")],
            "True",
        ),
        // Join
        (
            r#"Join(", ", "", [surname], [givenName])"#,
            &[("givenName", "John"), ("surname", "Doe")],
            "Doe, John",
        ),
        (
            r#"ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], [PreferredLastName]))), "contoso.com"))"#,
            &[
                ("PreferredFirstName", "John"),
                ("PreferredLastName", "Smith"),
            ],
            "john.smith@contoso.com",
        ),
        // Left
        (r#"Left("John Doe", 3)"#, &[], "Joh"),
        (r#"Left("John Doe", 0)"#, &[], ""),
        (r#"Left("John Doe", -1)"#, &[], "John Doe"),
        ("Left([x], 3)", &[], ""),
        (r#"Left("Jo", 3)"#, &[], "Jo"),
        // Mid
        ("Mid([givenName], 1, 3)", &[("givenName", "John")], "Joh"),
        ("Mid([surname], 1, 5)", &[("surname", "Doe")], "Doe"),
        (
            "Mid([PreferredFirstName], 1, 2)",
            &[("PreferredFirstName", "John")],
            "Jo",
        ),
        // NormalizeDiacritics
        (
            "NormalizeDiacritics([givenName])",
            &[("givenName", "Zoë")],
            "Zoe",
        ),
        (
            "NormalizeDiacritics([x])",
            &[(
                "x",
                "ÄÀÂÃÅÁĄĂĀ çčć ďḏ ëèéêęěėē ğ ïîìíıī ľł ñńň öòőõôóō ø ř ß šśșş ťț üùûúůűū ÿý źžż Æ",
            )],
            "AAAAAAAAA ccc dd eeeeeeee g iiiiii ll nnn ooooooo oe r ss ssss tt uuuuuuu yy zzz AE",
        ),
        // Not
        ("Not([x])", &[("x", "True")], "False"),
        ("Not([x])", &[("x", "False")], "True"),
        // Replace, its five modes
        (
            r#"Replace([BusinessTitle],"Product Developer", , , "Software Engineer", , )"#,
            &[("BusinessTitle", "Product Developer")],
            "Software Engineer",
        ),
        (
            r#"Replace([UserID],"<username>", , , , , "<username>@contoso.com")"#,
            &[("UserID", "jsmith")],
            "jsmith@contoso.com",
        ),
        (
            r#"Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", , "${phoneNumber}", , )"#,
            &[("telephoneNumber", "+91 9998887777")],
            "9998887777",
        ),
        (
            r#"Replace([mobile], , "[()\\s-]+", , "", , )"#,
            &[("mobile", "+1 (999) 888-7777")],
            "+19998887777",
        ),
        (
            r#"Replace([AddressLineData], ,"(?<streetNumber>^\\d*)","streetNumber", "888", , )"#,
            &[("AddressLineData", "545 Tremont Street")],
            "888 Tremont Street",
        ),
        (
            r#"Replace([userPrincipalName], , "(?<Suffix>@(.)*)", "Suffix", "", , )"#,
            &[("userPrincipalName", "jsmith@contoso.com")],
            "jsmith",
        ),
        (
            r#"Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", "phoneNumber" , , [mobile], )"#,
            &[("telephoneNumber", ""), ("mobile", "+91 8887779999")],
            "8887779999",
        ),
        (
            r#"Replace([mailNickname], , "[a-zA-Z_]*", , "", , )"#,
            &[("mailNickname", "john_doe72")],
            "72",
        ),
        (
            r#"Replace([mail], "@contoso.com", , ,"", ,)"#,
            &[("mail", "john.doe@contoso.com")],
            "john.doe",
        ),
        // Split
        (
            r#"Split([extensionAttribute5], ",")"#,
            &[("extensionAttribute5", "PermissionSetOne, PermissionSetTwo")],
            r#"["PermissionSetOne", "PermissionSetTwo"]"#,
        ),
        // StripSpaces
        (r#"StripSpaces("Mary Ann")"#, &[], "MaryAnn"),
        // Switch
        (
            r#"Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", "Australia/Brisbane", "SA", "Australia/Adelaide")"#,
            &[("state", "QLD")],
            "Australia/Brisbane",
        ),
        (
            r#"Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", "Australia/Brisbane", "SA", "Australia/Adelaide")"#,
            &[("state", "VIC")],
            "Australia/Sydney",
        ),
        (
            r#"Switch(ToLower([statusFlag]), "0", "true", "1", "false", "0")"#,
            &[("statusFlag", "TRUE")],
            "1",
        ),
        (
            r#"Switch([statusFlag], "Default Value", "true", "1", "", "0")"#,
            &[],
            "0",
        ),
        (
            r#"Switch([country],[country],"","Other")"#,
            &[("country", "")],
            "Other",
        ),
        (
            r#"Switch([country],[country],"","Other")"#,
            &[("country", "Peru")],
            "Peru",
        ),
        // Word
        (r#"Word("The quick brown fox",3," ")"#, &[], "brown"),
        (
            r#"Word("This,string!has&many separators",3,",!&#")"#,
            &[],
            "has",
        ),
        (r#"Word("The quick brown fox",0," ")"#, &[], ""),
        (r#"Word("The quick brown fox",5," ")"#, &[], ""),
        (r#"Word([x],1," ")"#, &[], ""),
        // Now
        ("Now()", &[], "7/2/2021 3:33:38 PM"),
        // Comparisons in IIF
        (r#"IIF([age] > 5, "old", "new")"#, &[("age", "12")], "old"),
        (
            r#"IIF([age] <= 5, "young", "old")"#,
            &[("age", "5")],
            "young",
        ),
        (
            r#"IIF([country] <> "USA", "abroad", "home")"#,
            &[("country", "USA")],
            "home",
        ),
    ];
    for (expression, inputs, expected) in rows {
        assert_eq!(
            text(expression, inputs),
            *expected,
            "{expression} on {inputs:?}"
        );
    }
}

#[test]
fn item_counts_from_one() {
    let mut f = fixture(&[]);
    f.attributes.insert(
        "proxyAddresses".into(),
        Value::Many(vec!["SMTP:a@x.com".into(), "smtp:b@x.com".into()]),
    );
    let item = |index: &str, f: &mut Fixture| {
        evaluate(
            &parse(&format!("Item([proxyAddresses], {index})")).unwrap(),
            f,
        )
        .unwrap()
    };
    assert_eq!(item("1", &mut f), Value::One("SMTP:a@x.com".into()));
    assert_eq!(item("2", &mut f), Value::One("smtp:b@x.com".into()));
    assert_eq!(item("3", &mut f), Value::Null);
    assert_eq!(item("0", &mut f), Value::Null, "index 0 is not an item");
    // Join takes every value of a multi-valued attribute.
    let joined = evaluate(&parse(r#"Join("|", [proxyAddresses])"#).unwrap(), &mut f).unwrap();
    assert_eq!(joined, Value::One("SMTP:a@x.com|smtp:b@x.com".into()));
}

#[test]
fn select_unique_value_takes_the_first_free_value() {
    let expression = r#"SelectUniqueValue(
        Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], [PreferredLastName]))), "contoso.com"),
        Join("@", NormalizeDiacritics(StripSpaces(Join(".",  Mid([PreferredFirstName], 1, 1), [PreferredLastName]))), "contoso.com"),
        Join("@", NormalizeDiacritics(StripSpaces(Join(".",  Mid([PreferredFirstName], 1, 2), [PreferredLastName]))), "contoso.com")
    )"#;
    let parsed = parse(expression).unwrap();
    let inputs = [
        ("PreferredFirstName", "John"),
        ("PreferredLastName", "Smith"),
    ];
    let cases: [(&[&str], Option<&str>); 4] = [
        (&[], Some("John.Smith@contoso.com")),
        (&["John.Smith@contoso.com"], Some("J.Smith@contoso.com")),
        (
            &["John.Smith@contoso.com", "J.Smith@contoso.com"],
            Some("Jo.Smith@contoso.com"),
        ),
        (
            &[
                "John.Smith@contoso.com",
                "J.Smith@contoso.com",
                "Jo.Smith@contoso.com",
            ],
            None,
        ),
    ];
    for (taken, expected) in cases {
        let mut f = fixture(&inputs);
        f.taken = taken.iter().map(|s| (*s).to_owned()).collect();
        match (evaluate(&parsed, &mut f), expected) {
            (Ok(Value::One(v)), Some(e)) => assert_eq!(v, e),
            (Err(EvalError::NoUniqueValue(3)), None) => {}
            (other, _) => panic!("{taken:?}: {other:?}"),
        }
    }
}

#[test]
fn random_values_have_their_documented_shape() {
    let mut f = fixture(&[]);
    let guid = evaluate(&parse("Guid()").unwrap(), &mut f).unwrap();
    let guid = guid.text().unwrap().to_owned();
    let shape: Vec<usize> = guid.split('-').map(str::len).collect();
    assert_eq!(shape, [8, 4, 4, 4, 12], "{guid}");
    assert!(
        guid.chars()
            .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    let other = evaluate(&parse("Guid()").unwrap(), &mut f).unwrap();
    assert_ne!(other.text().unwrap(), guid, "each call differs");

    let s = evaluate(&parse("RandomString(6,3,0,0,3)").unwrap(), &mut f).unwrap();
    let s = s.text().unwrap();
    assert_eq!(s.chars().count(), 6);
    assert!(s.chars().filter(char::is_ascii_digit).count() >= 3, "{s}");
    assert!(
        s.chars().filter(char::is_ascii_lowercase).count() >= 3,
        "{s}"
    );

    let s = evaluate(&parse(r#"RandomString(10,2,2,2,1,"?,")"#).unwrap(), &mut f).unwrap();
    let s = s.text().unwrap();
    assert_eq!(s.chars().count(), 10);
    assert!(s.chars().filter(char::is_ascii_digit).count() >= 2, "{s}");
    assert!(
        s.chars().filter(char::is_ascii_uppercase).count() >= 2,
        "{s}"
    );
    assert!(
        s.chars().filter(char::is_ascii_lowercase).count() >= 1,
        "{s}"
    );
    assert!(
        s.chars().filter(|c| c.is_ascii_punctuation()).count() >= 2,
        "{s}"
    );
    assert!(!s.contains('?') && !s.contains(','), "{s}");

    for bad in ["RandomString(257,0,0,0,0)", "RandomString(3,2,2,0,0)"] {
        assert!(run(bad, &[]).is_err(), "{bad}");
    }
}

#[test]
fn failures_say_what_was_wrong() {
    let cases = [
        (
            r#"FormatDateTime([d], , "yyyy-MM-dd", "dd/MM/yyyy")"#,
            "is not a date in the format",
        ),
        (r#"Replace([x], , "(", , "", , )"#, "does not read"),
        (r#"Left([x], "three")"#, "must be a number"),
        (r#"Replace([x], , , , , , )"#, "give oldValue"),
    ];
    for (expression, said) in cases {
        let e = run(expression, &[("d", "2021/07/02"), ("x", "abc")]).unwrap_err();
        assert!(e.to_string().contains(said), "{expression}: {e}");
    }
}
