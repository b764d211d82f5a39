//! Dates in .NET's custom format strings, as `FormatDateTime` takes them
//! (`"yyyyMMddHHmmss.fZ"`, `"M/d/yyyy h:mm:ss tt"`), with the invariant culture: `yyyy yy MMMM
//! MMM MM M dddd ddd dd d HH H hh h mm m ss s f… F… tt t zzz zz z K`, `'quoted'` and
//! `"quoted"` text and `\x`; any other character stands for itself.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// One piece of a format.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A specifier letter repeated `n` times.
    Field(char, usize),
    /// Text that stands for itself.
    Literal(String),
}

fn tokens(format: &str) -> Vec<Token> {
    let chars: Vec<char> = format.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            'y' | 'M' | 'd' | 'H' | 'h' | 'm' | 's' | 'f' | 'F' | 't' | 'z' | 'K' => {
                let mut n = 1;
                while chars.get(i + n) == Some(&c) {
                    n += 1;
                }
                out.push(Token::Field(c, n));
                i += n;
            }
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|x| *x == c)
                    .map_or(chars.len(), |p| i + 1 + p);
                out.push(Token::Literal(chars[i + 1..end].iter().collect()));
                i = end + 1;
            }
            '\\' => {
                if let Some(next) = chars.get(i + 1) {
                    out.push(Token::Literal(next.to_string()));
                }
                i += 2;
            }
            other => {
                out.push(Token::Literal(other.to_string()));
                i += 1;
            }
        }
    }
    out
}

/// `at` written in `format`.
pub fn format(at: OffsetDateTime, format: &str) -> String {
    let mut out = String::new();
    for token in tokens(format) {
        match token {
            Token::Literal(text) => out.push_str(&text),
            Token::Field(c, n) => out.push_str(&field(at, c, n)),
        }
    }
    out
}

fn field(at: OffsetDateTime, c: char, n: usize) -> String {
    let hour12 = match at.hour() % 12 {
        0 => 12,
        h => h,
    };
    let offset = at.offset();
    let sign = if offset.is_negative() { '-' } else { '+' };
    let (oh, om) = (
        offset.whole_hours().unsigned_abs(),
        offset.minutes_past_hour().unsigned_abs(),
    );
    match (c, n) {
        ('y', 1) => (at.year() % 100).to_string(),
        ('y', 2) => format!("{:02}", at.year() % 100),
        ('y', n) => format!("{:0n$}", at.year()),
        ('M', 1) => u8::from(at.month()).to_string(),
        ('M', 2) => format!("{:02}", u8::from(at.month())),
        ('M', 3) => MONTHS[usize::from(u8::from(at.month())) - 1][..3].to_owned(),
        ('M', _) => MONTHS[usize::from(u8::from(at.month())) - 1].to_owned(),
        ('d', 1) => at.day().to_string(),
        ('d', 2) => format!("{:02}", at.day()),
        ('d', 3) => DAYS[usize::from(at.weekday().number_days_from_monday())][..3].to_owned(),
        ('d', _) => DAYS[usize::from(at.weekday().number_days_from_monday())].to_owned(),
        ('H', 1) => at.hour().to_string(),
        ('H', _) => format!("{:02}", at.hour()),
        ('h', 1) => hour12.to_string(),
        ('h', _) => format!("{hour12:02}"),
        ('m', 1) => at.minute().to_string(),
        ('m', _) => format!("{:02}", at.minute()),
        ('s', 1) => at.second().to_string(),
        ('s', _) => format!("{:02}", at.second()),
        ('f' | 'F', n) => {
            let digits = format!("{:09}", at.nanosecond());
            let cut = &digits[..n.min(7)];
            if c == 'F' {
                cut.trim_end_matches('0').to_owned()
            } else {
                cut.to_owned()
            }
        }
        ('t', 1) => if at.hour() < 12 { "A" } else { "P" }.to_owned(),
        ('t', _) => if at.hour() < 12 { "AM" } else { "PM" }.to_owned(),
        ('z', 1) => format!("{sign}{oh}"),
        ('z', 2) => format!("{sign}{oh:02}"),
        ('z', _) => format!("{sign}{oh:02}:{om:02}"),
        ('K', _) if offset.is_utc() => "Z".to_owned(),
        ('K', _) => format!("{sign}{oh:02}:{om:02}"),
        (other, n) => other.to_string().repeat(n),
    }
}

/// Reads `text` in `format`; a date without an offset is UTC.
pub fn parse(text: &str, format: &str) -> Result<OffsetDateTime, String> {
    let chars: Vec<char> = text.trim().chars().collect();
    let mut at = 0;
    let (mut year, mut month, mut day) = (1i32, 1u8, 1u8);
    let (mut hour, mut minute, mut second, mut nanos) = (0u8, 0u8, 0u8, 0u32);
    let mut pm: Option<bool> = None;
    let mut offset = UtcOffset::UTC;
    let digits = |at: &mut usize, min: usize, max: usize| -> Result<u32, String> {
        let start = *at;
        while *at < chars.len() && *at - start < max && chars[*at].is_ascii_digit() {
            *at += 1;
        }
        if *at - start < min {
            return Err(format!("expected a number at character {}", start + 1));
        }
        chars[start..*at]
            .iter()
            .collect::<String>()
            .parse()
            .map_err(|_| format!("expected a number at character {}", start + 1))
    };
    let small = |n: u32| u8::try_from(n).map_err(|_| format!("{n} is out of range"));
    for token in tokens(format) {
        match token {
            Token::Literal(lit) => {
                for want in lit.chars() {
                    if chars.get(at) != Some(&want) {
                        return Err(format!("expected {want:?} at character {}", at + 1));
                    }
                    at += 1;
                }
            }
            Token::Field(c, n) => match c {
                'y' => {
                    let y = if n <= 2 {
                        2000 + digits(&mut at, 2, 2)?
                    } else {
                        digits(&mut at, 4, n.max(4))?
                    };
                    year = i32::try_from(y).map_err(|_| "the year is out of range".to_owned())?;
                }
                'M' if n >= 3 => {
                    let rest: String = chars[at..].iter().collect();
                    let found = MONTHS.iter().enumerate().find_map(|(i, name)| {
                        let name = if n == 3 { &name[..3] } else { name };
                        rest.starts_with(name).then_some((i, name.chars().count()))
                    });
                    let (i, len) = found.ok_or_else(|| {
                        format!("expected the name of a month at character {}", at + 1)
                    })?;
                    month = small(u32::try_from(i + 1).unwrap_or(1))?;
                    at += len;
                }
                'M' => month = small(digits(&mut at, n.min(2), 2)?)?,
                'd' if n >= 3 => {
                    let rest: String = chars[at..].iter().collect();
                    let len = DAYS
                        .iter()
                        .map(|name| if n == 3 { &name[..3] } else { name })
                        .find(|name| rest.starts_with(*name))
                        .map(|name| name.chars().count())
                        .ok_or_else(|| format!("expected a day's name at character {}", at + 1))?;
                    at += len;
                }
                'd' => day = small(digits(&mut at, n.min(2), 2)?)?,
                'H' | 'h' => hour = small(digits(&mut at, n.min(2), 2)?)?,
                'm' => minute = small(digits(&mut at, n.min(2), 2)?)?,
                's' => second = small(digits(&mut at, n.min(2), 2)?)?,
                'f' | 'F' => {
                    let start = at;
                    let value = digits(&mut at, usize::from(c == 'f') * n, n)?;
                    let read = at - start;
                    let scale = 10u32.pow(u32::try_from(9 - read.min(9)).unwrap_or(0));
                    nanos = value * scale;
                }
                't' => {
                    let rest: String = chars[at..].iter().take(n.min(2)).collect();
                    let upper = rest.to_ascii_uppercase();
                    pm = match upper.chars().next() {
                        Some('A') => Some(false),
                        Some('P') => Some(true),
                        _ => return Err(format!("expected AM or PM at character {}", at + 1)),
                    };
                    at += rest.chars().count();
                }
                'z' | 'K' => {
                    if c == 'K' && chars.get(at) == Some(&'Z') {
                        at += 1;
                        continue;
                    }
                    let sign: i8 = match chars.get(at) {
                        Some('+') => 1,
                        Some('-') => -1,
                        _ => return Err(format!("expected an offset at character {}", at + 1)),
                    };
                    at += 1;
                    let h = digits(&mut at, 1, 2)?;
                    let mut m = 0;
                    if chars.get(at) == Some(&':') {
                        at += 1;
                        m = digits(&mut at, 2, 2)?;
                    }
                    let h = i8::try_from(h).map_err(|_| "the offset is out of range")?;
                    let m = i8::try_from(m).map_err(|_| "the offset is out of range")?;
                    offset =
                        UtcOffset::from_hms(sign * h, sign * m, 0).map_err(|e| e.to_string())?;
                }
                _ => {}
            },
        }
    }
    if at != chars.len() {
        return Err(format!("unexpected text from character {}", at + 1));
    }
    match pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let month = Month::try_from(month).map_err(|e| e.to_string())?;
    let date = Date::from_calendar_date(year, month, day).map_err(|e| e.to_string())?;
    let time = Time::from_hms_nano(hour, minute, second, nanos).map_err(|e| e.to_string())?;
    Ok(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_as_dotnet_does() {
        let at = datetime!(2021-07-02 15:33:38.123 UTC);
        assert_eq!(format(at, "M/d/yyyy h:mm:ss tt"), "7/2/2021 3:33:38 PM");
        assert_eq!(
            format(at, "yyyy-MM-ddTHH:mm:ss.fffZ"),
            "2021-07-02T15:33:38.123Z"
        );
        assert_eq!(format(at, "dddd, MMMM dd"), "Friday, July 02");
        assert_eq!(format(at, "yyyyMMdd'T'HHmm zzz"), "20210702T1533 +00:00");
        assert_eq!(
            format(datetime!(2021-01-05 00:05:00 UTC), "hh:mm t"),
            "12:05 A"
        );
    }

    #[test]
    fn reads_what_it_writes() {
        for (text, fmt) in [
            ("20150123105347.1Z", "yyyyMMddHHmmss.fZ"),
            ("7/2/2021 3:33:38 PM", "M/d/yyyy h:mm:ss tt"),
            ("2021-07-02T15:33:38+02:00", "yyyy-MM-ddTHH:mm:ssK"),
            ("02 Jul 2021", "dd MMM yyyy"),
        ] {
            let at = parse(text, fmt).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(format(at, fmt), text);
        }
        assert_eq!(
            parse("20150123105347.1Z", "yyyyMMddHHmmss.fZ").unwrap(),
            datetime!(2015-01-23 10:53:47.1 UTC)
        );
        assert!(parse("2015-13-01", "yyyy-MM-dd").is_err());
        assert!(parse("2015-01-01x", "yyyy-MM-dd").is_err());
        assert!(parse("15-01-01", "yyyy-MM-dd").is_err());
    }
}
