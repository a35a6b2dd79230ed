//! proptest strategies for the value types (feature `proptest`), so hosts can property-test their
//! own integrations: valid and invalid office numbers, user IDs, addresses, passwords by policy
//! clause, and instants around the policy's dates.
//!
//! # Example
//!
//! ```
//! use kaigo_seikyu::strategies;
//! use kaigo_seikyu::values::{OfficeNumber, UserId};
//! use proptest::prelude::*;
//!
//! proptest!(|(office in strategies::office_number(), user in strategies::user_id())| {
//!     // A host's own code would go here; e.g. its form parser must agree with the crate's.
//!     prop_assert!(office.to_string().parse::<OfficeNumber>().is_ok());
//!     prop_assert_eq!(user.to_string().len(), 14);
//! });
//! proptest!(|(bad in strategies::invalid_office_number())| {
//!     prop_assert!(bad.parse::<OfficeNumber>().is_err());
//! });
//! ```

use chrono::TimeDelta;
use proptest::prelude::*;

use crate::calendar::{Instant, start_of};
use crate::policy::Policy;
use crate::values::{
    EmailAddress, OfficeNumber, Password, PasswordClause, PasswordRules, Prefecture, UserId,
};

/// Any of the 47 prefectures.
pub fn prefecture() -> impl Strategy<Value = Prefecture> {
    (1u8..=47).prop_map(|c| Prefecture::from_code(c).expect("1..=47"))
}

/// A valid office number (VAL-01), check digit right or not.
pub fn office_number() -> impl Strategy<Value = OfficeNumber> {
    (1u8..=47, "[0-9A-HJ-NPR-Z]", "[0-9]{7}").prop_map(|(p, c, rest)| {
        format!("{p:02}{c}{rest}")
            .parse()
            .expect("valid by construction")
    })
}

/// Text that is not an office number: wrong length, bad prefecture code, a forbidden letter,
/// full-width digits, or anything at all that fails to parse.
pub fn invalid_office_number() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,9}",
        "[0-9]{11,14}",
        "(00|4[89]|[5-9][0-9])[0-9]{8}",
        "[0-4][0-9][IOQa-z][0-9]{7}",
        "[０-９]{10}",
        any::<String>().prop_filter("must not parse", |s| s.parse::<OfficeNumber>().is_err()),
    ]
}

/// A user ID (VAL-03) of any billing prefecture and office.
pub fn user_id() -> impl Strategy<Value = UserId> {
    (prefecture(), office_number()).prop_map(|(p, o)| UserId::new(p, o))
}

/// A valid email address (VAL-04), sometimes dotless like the source's `jigyousho@jp`.
pub fn email_address() -> impl Strategy<Value = EmailAddress> {
    (
        "[a-zA-Z0-9._+-]{1,24}",
        proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 1..4),
    )
        .prop_map(|(local, labels)| {
            format!("{local}@{}", labels.join("."))
                .parse()
                .expect("valid by construction")
        })
}

/// Text that is not an email address: no `@`, two `@`, full-width, empty parts, too long.
pub fn invalid_email_address() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{1,20}",
        "[a-z]{1,5}@[a-z]{1,5}@[a-z]{1,5}",
        "[ａ-ｚ]{1,8}@jp",
        "@[a-z]{1,8}",
        "[a-z]{1,8}@",
        "[a-z]{1,8}@[a-z]{1,5}\\.",
        "[a-z]{252,260}@jp",
    ]
}

/// A new password that satisfies VAL-06 for `user` under `rules`.
pub fn valid_password(rules: PasswordRules) -> impl Strategy<Value = Password> {
    valid_password_text(rules).prop_map(Password::new)
}

/// The text of a new password that satisfies VAL-06 under `rules`, as a user types it into a
/// form (the entry points take `&str`; a [`Password`] never shows its text).
///
/// # Example
/// ```
/// use kaigo_seikyu::{strategies, values::PasswordRules};
/// use proptest::prelude::*;
/// proptest!(|(text in strategies::valid_password_text(PasswordRules::default()))| {
///     prop_assert!((8..=16).contains(&text.chars().count()));
/// });
/// ```
pub fn valid_password_text(rules: PasswordRules) -> impl Strategy<Value = String> {
    let extra = usize::from(rules.min_chars.saturating_sub(2))
        ..=usize::from(rules.max_chars.saturating_sub(2));
    proptest::collection::vec(proptest::char::ranges(allowed_ranges()), extra)
        .prop_map(|body| format!("a1{}", body.into_iter().collect::<String>()))
}

fn allowed_ranges() -> std::borrow::Cow<'static, [std::ops::RangeInclusive<char>]> {
    let mut ranges = vec!['a'..='z', 'A'..='Z', '0'..='9'];
    ranges.extend(crate::values::password_symbols().chars().map(|c| c..=c));
    ranges.into()
}

/// A password that breaks exactly `clause` of VAL-06 (for [`PasswordClause::SameAsUserId`], the
/// user ID `KJ131311111111` in any case mix), under the default rules.
pub fn password_breaking(clause: PasswordClause) -> BoxedStrategy<Password> {
    password_text_breaking(clause)
        .prop_map(Password::new)
        .boxed()
}

/// The text of a password that breaks exactly `clause` of VAL-06, as a user types it (see
/// [`password_breaking`]).
///
/// # Example
/// ```
/// use kaigo_seikyu::{strategies, values::PasswordClause};
/// use proptest::prelude::*;
/// proptest!(|(text in strategies::password_text_breaking(PasswordClause::NoDigit))| {
///     prop_assert!(!text.bytes().any(|b| b.is_ascii_digit()));
/// });
/// ```
pub fn password_text_breaking(clause: PasswordClause) -> BoxedStrategy<String> {
    match clause {
        PasswordClause::Length { .. } => {
            prop_oneof!["[a-z][0-9][a-z0-9]{0,5}", "[a-z][0-9][a-z0-9]{15,30}"].boxed()
        }
        PasswordClause::Characters => ("[a-z][0-9][a-z0-9]{5,12}", "[ \"'\\\\ぁ-んＡ-Ｚ]")
            .prop_map(|(ok, bad)| format!("{ok}{bad}"))
            .boxed(),
        PasswordClause::NoLetter => "[0-9!#$%&()*+,./:;<=>?@^_`{|}~-]{8,16}".boxed(),
        PasswordClause::NoDigit => "[a-zA-Z!#$%&()*+,./:;<=>?@^_`{|}~-]{8,16}"
            .prop_filter("needs a letter", |s| {
                s.bytes().any(|b| b.is_ascii_alphabetic())
            })
            .boxed(),
        PasswordClause::SameAsUserId => proptest::collection::vec(any::<bool>(), 14)
            .prop_map(|upper| {
                "kj131311111111"
                    .chars()
                    .zip(upper)
                    .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
                    .collect()
            })
            .boxed(),
    }
}

/// An instant within two days of one of the policy's dates (grace end, fee notice window, fee
/// change), often exactly on the boundary or a millisecond either side, in JST.
pub fn instant_around(policy: &Policy) -> impl Strategy<Value = Instant> + use<> {
    let edges = vec![
        start_of(policy.grace_last_day + TimeDelta::days(1)),
        start_of(policy.fee_notice_window.first),
        start_of(policy.fee_notice_window.last + TimeDelta::days(1)),
        start_of(policy.fee.change_day),
    ];
    let near = prop_oneof![
        Just(0i64),
        Just(-1),
        Just(1),
        Just(-1000),
        -172_800_000i64..172_800_000,
    ];
    (proptest::sample::select(edges), near)
        .prop_map(|(edge, ms)| edge + TimeDelta::milliseconds(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest! {
        /// VAL-01, VAL-04: the valid strategies parse, the invalid ones do not.
        #[test]
        fn val_01_val_04_strategies_agree_with_parsers(
            o in office_number(), bad_o in invalid_office_number(),
            a in email_address(), bad_a in invalid_email_address(),
        ) {
            prop_assert_eq!(o.to_string().parse::<OfficeNumber>().unwrap(), o);
            prop_assert!(bad_o.parse::<OfficeNumber>().is_err());
            prop_assert_eq!(a.to_string().parse::<EmailAddress>().unwrap(), a);
            prop_assert!(bad_a.parse::<EmailAddress>().is_err());
        }

        /// VAL-06: valid passwords pass; each breaking strategy breaks exactly its clause.
        #[test]
        fn val_06_password_strategies(
            ok in valid_password(PasswordRules::default()),
            len in password_breaking(PasswordClause::Length { min: 8, max: 16 }),
            chars in password_breaking(PasswordClause::Characters),
            letter in password_breaking(PasswordClause::NoLetter),
            digit in password_breaking(PasswordClause::NoDigit),
            same in password_breaking(PasswordClause::SameAsUserId),
        ) {
            let user: UserId = "KJ131311111111".parse().unwrap();
            let rules = PasswordRules::default();
            let clause = |p: &Password| match p.check_policy(&user, &rules) {
                Err(crate::values::ValueError::Password(c)) => Some(c),
                _ => None,
            };
            prop_assert_eq!(clause(&ok), None);
            prop_assert_eq!(clause(&len), Some(PasswordClause::Length { min: 8, max: 16 }));
            prop_assert_eq!(clause(&chars), Some(PasswordClause::Characters));
            prop_assert_eq!(clause(&letter), Some(PasswordClause::NoLetter));
            prop_assert_eq!(clause(&digit), Some(PasswordClause::NoDigit));
            prop_assert_eq!(clause(&same), Some(PasswordClause::SameAsUserId));
        }

        /// VAL-06: the texts a user types break the clause their `Password` breaks, or none.
        #[test]
        fn val_06_password_texts_as_typed(
            ok in valid_password_text(PasswordRules::default()),
            chars in password_text_breaking(PasswordClause::Characters),
        ) {
            let user: UserId = "KJ131311111111".parse().unwrap();
            let rules = PasswordRules::default();
            prop_assert_eq!(Password::new(ok).check_policy(&user, &rules), Ok(()));
            prop_assert_eq!(
                Password::new(chars).check_policy(&user, &rules),
                Err(crate::values::ValueError::Password(PasswordClause::Characters))
            );
        }

        /// CAL-02: instants around the grace end fall on both sides of it.
        #[test]
        fn cal_02_instants_around_policy_dates(t in instant_around(&Policy::default())) {
            let p = Policy::default();
            let edge = start_of(p.grace_last_day + TimeDelta::days(1));
            prop_assert_eq!(p.grace_allows(t), t < edge);
        }
    }
}
