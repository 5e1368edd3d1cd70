//! Dates of the proleptic Gregorian calendar as day counts since
//! 1970-01-01: what the RTC keeps and what `-msg timestamp=on` prints.

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm). Out-of-range months and days carry over as `mktime` does
/// for days; months are clamped to 1..=12.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let month = month.clamp(1, 12);
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01.
///
/// # Examples
///
/// ```
/// use examples::calendar::{civil_from_days, days_from_civil};
///
/// assert_eq!(civil_from_days(19_787), (2024, 3, 5));
/// assert_eq!(days_from_civil(2024, 3, 5), 19_787);
/// ```
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
