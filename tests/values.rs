//! Property tests of the value parsers (VAL-01 … VAL-08, SEC-06): no input makes a parser panic,
//! and every valid value round-trips through `Display`/`FromStr` and serde.

use kaigo_seikyu::calendar::YearMonth;
use kaigo_seikyu::values::{
    ConfirmationCode, EmailAddress, ManagementNumber, OfficeNumber, OneTimePassword, Password,
    Prefecture, UserId,
};
use proptest::prelude::*;

/// Any string at all: ASCII, full-width, control characters, long.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,300}",
        "[０-９Ａ-Ｚａ-ｚ＠．]{0,20}",
        proptest::collection::vec(any::<char>(), 0..2000).prop_map(|v| v.into_iter().collect()),
    ]
}

fn office_number() -> impl Strategy<Value = String> {
    (1u8..=47, "[0-9A-HJ-NPR-Z]", "[0-9]{7}").prop_map(|(p, c, rest)| format!("{p:02}{c}{rest}"))
}

fn email() -> impl Strategy<Value = String> {
    (
        "[a-zA-Z0-9._%+-]{1,30}",
        proptest::collection::vec("[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", 1..4),
    )
        .prop_map(|(local, labels)| format!("{local}@{}", labels.join(".")))
}

proptest! {
    /// SEC-06: every public parser returns a value or an error for any input, never a panic.
    #[test]
    fn sec_06_parsers_never_panic(s in any_text()) {
        let _ = s.parse::<OfficeNumber>();
        let _ = s.parse::<Prefecture>();
        let _ = s.parse::<UserId>();
        let _ = s.parse::<EmailAddress>();
        let _ = s.parse::<ConfirmationCode>();
        let _ = s.parse::<OneTimePassword>();
        let _ = s.parse::<ManagementNumber>();
        let _ = Password::new(s.clone()).check_policy(&"KJ131311111111".parse().unwrap(), &Default::default());
        let _ = serde_json::from_str::<OfficeNumber>(&format!("{s:?}"));
        let _ = serde_json::from_str::<EmailAddress>(&format!("{s:?}"));
    }

    /// VAL-01, VAL-03: valid office numbers and user IDs round-trip through text and serde.
    #[test]
    fn val_01_val_03_round_trip(n in office_number(), p in 1u8..=47) {
        let office: OfficeNumber = n.parse().unwrap();
        prop_assert_eq!(office.to_string(), n.clone());
        prop_assert_eq!(serde_json::from_str::<OfficeNumber>(&serde_json::to_string(&office).unwrap()).unwrap(), office);
        let user = UserId::new(Prefecture::from_code(p).unwrap(), office);
        prop_assert_eq!(user.to_string().parse::<UserId>().unwrap(), user);
        prop_assert_eq!(serde_json::from_str::<UserId>(&serde_json::to_string(&user).unwrap()).unwrap(), user);
        prop_assert_eq!(user.to_string().len(), 14);
    }

    /// VAL-04: valid addresses round-trip, keep their case for display, and equal their other-case form.
    #[test]
    fn val_04_round_trip(s in email()) {
        prop_assume!(s.len() <= 254);
        let a: EmailAddress = s.parse().unwrap();
        prop_assert_eq!(a.as_str(), s.as_str());
        prop_assert_eq!(&a.to_string().to_ascii_uppercase().parse::<EmailAddress>().unwrap(), &a);
        prop_assert_eq!(serde_json::from_str::<EmailAddress>(&serde_json::to_string(&a).unwrap()).unwrap(), a);
    }

    /// VAL-07: every 4- and 6-digit string parses, keeps its digits, and only those do.
    #[test]
    fn val_07_codes_round_trip(n in 0u32..1_000_000, s in any_text()) {
        let six = format!("{n:06}");
        let otp: OneTimePassword = six.parse().unwrap();
        prop_assert_eq!(otp.reveal(), six.as_str());
        let four = format!("{:04}", n % 10_000);
        let code: ConfirmationCode = four.parse().unwrap();
        prop_assert_eq!(code.reveal(), four.as_str());
        let t = s.trim_matches(' ');
        prop_assert_eq!(s.parse::<ConfirmationCode>().is_ok(), t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()));
    }

    /// VAL-08: management numbers round-trip through text and serde.
    #[test]
    fn val_08_round_trip(y in 1000u16..=9999, m in 1u8..=12, seq in 1u32..=999_999) {
        let n = ManagementNumber::new(YearMonth::new(y, m).unwrap(), seq).unwrap();
        prop_assert_eq!(n.to_string().parse::<ManagementNumber>().unwrap(), n);
        prop_assert_eq!(serde_json::from_str::<ManagementNumber>(&serde_json::to_string(&n).unwrap()).unwrap(), n);
    }

    /// VAL-06: a password of 8–16 allowed characters with a letter and a digit passes; the same
    /// with a forbidden character added fails with the characters clause.
    #[test]
    fn val_06_policy_properties(body in "[a-zA-Z0-9!#$%&()*+,\\-./:;<=>?@\\[\\]^_`{|}~]{6,14}", bad in "[ \"'\\\\]") {
        let user: UserId = "KJ131311111111".parse().unwrap();
        let ok = format!("a1{body}");
        prop_assert!(Password::new(ok.clone()).check_policy(&user, &Default::default()).is_ok());
        let broken = format!("{}{bad}", &ok[..ok.len() - 1]);
        prop_assert_eq!(
            Password::new(broken).check_policy(&user, &Default::default()),
            Err(kaigo_seikyu::values::ValueError::Password(kaigo_seikyu::values::PasswordClause::Characters))
        );
    }
}

/// VAL-02: prefecture codes round-trip through text and serde.
#[test]
fn val_02_round_trip() {
    for p in Prefecture::all() {
        assert_eq!(p.to_string().parse::<Prefecture>().unwrap(), p);
        assert_eq!(
            serde_json::from_str::<Prefecture>(&serde_json::to_string(&p).unwrap()).unwrap(),
            p
        );
    }
}
