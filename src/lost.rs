//! 【パスワード等を紛失した方】: the lost-credentials menu (LOST-01, source 1.2.2).
//!
//! Both login screens carry the link [`LINK`] to this menu. It keeps no state: it shows
//! [`menu_screen`] and routes the office's choice ([`LostChoice`]) either to the self-service
//! reset ([`reset`](crate::reset), RS) or to the reissue application
//! ([`reissue`](crate::reissue), RI).
//!
//! # Example
//! ```
//! use kaigo_seikyu::lost::{self, LostChoice};
//! let menu = lost::menu_screen();
//! assert_eq!(menu.title, "パスワード等を紛失した方");
//! // The form posts the chosen option's value; `次へ` routes on it.
//! match "reset".parse::<LostChoice>()? {
//!     LostChoice::Reset => assert_eq!(kaigo_seikyu::reset::authentication_screen().title, "ログイン情報再設定認証"),
//!     LostChoice::Reissue => unreachable!(),
//! }
//! # Ok::<(), kaigo_seikyu::error::FlowError>(())
//! ```

use crate::error::FlowError;
use crate::screen::button::{BACK, NEXT};
use crate::screen::{Choice, Field, Screen, menu_options};

/// The link both login screens show (LOGIN-01), leading to [`menu_screen`].
pub const LINK: &str = "パスワード等を紛失した方はこちら";

/// The menu's title.
const TITLE: &str = "パスワード等を紛失した方";

/// The menu's step list: the first step shared by RS and RI, as the source draws it.
const STEPS: &[&str] = &["1 パスワード等を紛失した方"];

/// The form name of the menu's radio group.
pub const CHOICE: &str = "choice";

/// What the office chose on 【パスワード等を紛失した方】 (LOST-01).
///
/// A form posts [`LostChoice::value`]; parse it back with `str::parse`. Anything else is
/// [`FlowError::UnexpectedInput`].
///
/// # Example
/// ```
/// use kaigo_seikyu::lost::LostChoice;
/// assert_eq!(LostChoice::Reissue.label(), "セキュリティ用メールアドレスが不明または未登録の場合はこちら");
/// assert_eq!("reissue".parse::<LostChoice>(), Ok(LostChoice::Reissue));
/// assert!("RESET ".parse::<LostChoice>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LostChoice {
    /// `セキュリティ用メールアドレスを登録済みの場合はこちら`: the self-service reset (RS).
    Reset,
    /// `セキュリティ用メールアドレスが不明または未登録の場合はこちら`: the reissue application (RI),
    /// also how an office billing on paper or media gets its first user ID.
    Reissue,
}

impl LostChoice {
    /// Both choices, in the order the menu shows them.
    pub const ALL: [LostChoice; 2] = [LostChoice::Reset, LostChoice::Reissue];

    /// The option's label as the source prints it.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::lost::LostChoice;
    /// assert_eq!(LostChoice::Reset.label(), "セキュリティ用メールアドレスを登録済みの場合はこちら");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            LostChoice::Reset => "セキュリティ用メールアドレスを登録済みの場合はこちら",
            LostChoice::Reissue => "セキュリティ用メールアドレスが不明または未登録の場合はこちら",
        }
    }

    /// The value a form posts for this option: `reset` or `reissue`.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::lost::LostChoice;
    /// for choice in LostChoice::ALL {
    ///     assert_eq!(choice.value().parse::<LostChoice>(), Ok(choice));
    /// }
    /// ```
    pub fn value(self) -> &'static str {
        match self {
            LostChoice::Reset => "reset",
            LostChoice::Reissue => "reissue",
        }
    }

    /// The lines under the option, as the source prints them.
    fn explanation(self) -> &'static [&'static str] {
        match self {
            LostChoice::Reset => &[
                "ユーザIDの確認、パスワードの再設定及びセキュリティコードの初期化を行います。",
                "※ 操作は数分で完了します。",
            ],
            LostChoice::Reissue => &[
                "国保連合会から、ユーザIDや仮パスワードを記載した書類を郵送します。",
                "※ 書類が届くまで、通常は数日から一週間程度かかります。",
                "※ 申請が集中した場合、数週間お待ちいただく場合があります。",
                "※ 紙請求または媒体請求を行っている事業所が、電子請求受付システムのユーザID及びパスワードを新たに取得する場合、こちらのメニューから申請してください。",
            ],
        }
    }
}

menu_options!(LostChoice, "LostMenu");

/// 【パスワード等を紛失した方】 (LOST-01) as the source draws it: the first option is selected
/// (`●`), the second not (`○`); buttons `戻る` and `次へ`.
///
/// # Example
/// ```
/// let menu = kaigo_seikyu::lost::menu_screen();
/// assert!(menu.shows("● セキュリティ用メールアドレスを登録済みの場合はこちら"));
/// assert!(menu.offers("次へ"));
/// ```
pub fn menu_screen() -> Screen {
    let options = LostChoice::ALL
        .into_iter()
        .map(|c| Choice::new(c.value(), c.label()).notes(c.explanation().iter().copied()))
        .collect();
    Screen::new(TITLE)
        .steps(STEPS, 0)
        .text(
            "lost.lead",
            "介護事業所が、ユーザIDやパスワード等のログイン情報を紛失した場合、こちらの画面からログイン情報の再設定を行うことができます。",
        )
        .text("lost.choose", "メニューを選択し、【次へ】ボタンを押してください。")
        .field(Field::radio(CHOICE, "", options).required().value(LostChoice::Reset))
        .button(BACK, "戻る")
        .button(NEXT, "次へ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LOST-01: the menu offers the two choices as the source prints them, with its texts.
    #[test]
    fn lost_01_menu_screen() {
        insta::assert_snapshot!(menu_screen().to_string());
    }

    /// LOST-01: the first choice routes to RS, the second to RI; nothing else is a choice.
    #[test]
    fn lost_01_choices_route_to_reset_and_reissue() {
        assert_eq!("reset".parse::<LostChoice>(), Ok(LostChoice::Reset));
        assert_eq!("reissue".parse::<LostChoice>(), Ok(LostChoice::Reissue));
        for bad in ["", "Reset", "reset ", "再設定", "reissue\0", "ｒｅｓｅｔ"] {
            assert!(
                matches!(
                    bad.parse::<LostChoice>(),
                    Err(FlowError::UnexpectedInput { .. })
                ),
                "{bad:?}"
            );
        }
        let menu = menu_screen();
        assert!(menu.shows(LostChoice::Reset.label()) && menu.shows(LostChoice::Reissue.label()));
        assert_eq!(LINK, "パスワード等を紛失した方はこちら");
    }
}
