//! What a user's mistake or a refused request looks like: one [`FlowError`] for every flow, with a
//! Japanese message for the screen and an English `Display` for logs. No variant carries a secret.

use crate::calendar::Instant;
use crate::screen::FormError;
use crate::store::StoreError;
use crate::values::ValueError;

/// A refusal. The state it was refused in is unchanged — except that a wrong code is counted (the
/// driver saves the count, then returns the error).
///
/// # Example
/// ```
/// use kaigo_seikyu::error::FlowError;
/// let e = FlowError::ConfirmationMismatch;
/// assert_eq!(e.to_string(), "the entry and its confirmation differ");
/// assert_eq!(e.message(), "確認用の入力内容が一致しません。");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// A value did not parse (VAL).
    #[error(transparent)]
    Value(#[from] ValueError),
    /// UI-02: a submitted form does not fit its screen, or a value in it did not parse; names
    /// the field or button.
    #[error(transparent)]
    Form(#[from] FormError),
    /// VAL-05: an entry and its confirmation (《…(確認用)》) differ.
    #[error("the entry and its confirmation differ")]
    ConfirmationMismatch,
    /// LOGIN-01: unknown user ID or wrong password (the two are not told apart).
    #[error("wrong user ID or password")]
    WrongCredentials,
    /// LOGIN-01: wrong security code.
    #[error("wrong security code")]
    WrongSecurityCode,
    /// LOGIN-02: the user ID is locked; says nothing of whether the password was right.
    #[error("the user ID is locked until {until}")]
    Locked {
        /// When it may try again.
        until: Instant,
    },
    /// RI-10: the temporary password has expired; apply for a reissue again.
    #[error("the temporary password has expired")]
    TemporaryPasswordExpired,
    /// FL-02: 《現在のパスワード》 is not the current (temporary) password.
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    /// FL-02: the new password equals the current one.
    #[error("the new password must differ from the current one")]
    SameAsCurrentPassword,
    /// A wrong code or one-time password; counted.
    #[error("wrong code; {remaining} tries left")]
    WrongCode {
        /// Tries left before the code is void.
        remaining: u8,
    },
    /// SEC-03: the code has expired; nothing changed.
    #[error("the code has expired")]
    CodeExpired,
    /// RS-04: the code was voided by too many wrong entries; start again.
    #[error("the code was voided by too many wrong entries")]
    CodeExhausted,
    /// SEC-03, RS-07: the flow's step has expired; nothing changed.
    #[error("this step has expired; start again")]
    FlowExpired,
    /// SEC-04: this flow may send no more codes.
    #[error("this flow has sent as many codes as it may")]
    TooManyCodes,
    /// SEC-04: this address has received as many code mails as it may this hour.
    #[error("too many code mails to this address this hour")]
    MailBudgetExceeded,
    /// SEC-07: too many wrong code entries this hour.
    #[error("too many wrong code entries this hour")]
    GuessBudgetExceeded,
    /// An input that does not belong to the current state (a step skipped or reordered).
    #[error("input {input} does not belong to state {state}")]
    UnexpectedInput {
        /// The state the flow is in.
        state: &'static str,
        /// The input that came.
        input: &'static str,
    },
    /// The flow is finished; it takes no more input.
    #[error("the flow is finished")]
    FlowFinished,
    /// GR-03: the grace period is over; the skip option is gone.
    #[error("the grace period is over: a security email must be registered")]
    GracePeriodOver,
    /// SE-01: at most five security emails.
    #[error("at most five security emails may be registered")]
    SecurityEmailLimit,
    /// SE-02: the address is already registered.
    #[error("that address is already registered")]
    DuplicateSecurityEmail,
    /// SE-04: the last security email cannot be deleted.
    #[error("the last security email cannot be deleted")]
    LastSecurityEmail,
    /// The address is not among the registered security emails.
    #[error("that address is not a registered security email")]
    SecurityEmailNotRegistered,
    /// SE-05: no security email is registered, so none can be added from the list.
    #[error("no security email is registered; register one from the login screen")]
    NoSecurityEmail,
    /// OPS-06: the user ID already has an account; provisioning changes nothing.
    #[error("the user ID already has an account")]
    AccountExists,
    /// RI-02: the office number is not in the office ledger.
    #[error("the office number is not in the office ledger")]
    NotInLedger,
    /// RS-02, RI-03: the chosen billing prefecture is not one of the offered ones.
    #[error("that billing prefecture is not one of the choices")]
    PrefectureNotOffered,
    /// RI-01: a proxy's login info cannot be reissued here.
    #[error("a proxy's login info cannot be reissued here; contact the federation")]
    ProxyNotSupported,
    /// RI-07: an application for this office and billing prefecture is already pending.
    #[error("an application for this office and billing prefecture is already pending")]
    ApplicationPending,
    /// RI-08: only the federation of the billing prefecture may review.
    #[error("only the federation of the billing prefecture may review this application")]
    WrongFederation,
    /// RI-08: the application has already been reviewed.
    #[error("the application has already been reviewed")]
    AlreadyReviewed,
    /// RI-08: no application with that management number.
    #[error("no such application")]
    NoSuchApplication,
    /// OPS-03: a review-queue cursor that this portal did not issue, was altered, or belongs to
    /// another prefecture's queue; nothing is listed.
    #[error("the review-queue cursor is not valid for this queue")]
    QueueCursorInvalid,
    /// OPS-03: a review-queue page holds 1 to this many entries.
    #[error("a review-queue page holds 1 to {max} entries")]
    QueuePageSize {
        /// The largest page.
        max: usize,
    },
    /// VAL-08: the month's management numbers are used up.
    #[error("the management numbers of this month are used up")]
    SequenceExhausted,
    /// FEE-04: `発行申請を行う前に` has not been read.
    #[error("the precautions must be read before applying")]
    PrecautionsNotRead,
    /// The account does not exist or cannot use this flow.
    #[error("no such account")]
    NoSuchAccount,
}

impl FlowError {
    /// A form sent with a button the state's screen does not offer (UI-02): an
    /// [`FlowError::UnexpectedInput`] naming the state.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::error::FlowError;
    /// assert!(matches!(FlowError::other_button("Done"), FlowError::UnexpectedInput { state: "Done", .. }));
    /// ```
    pub fn other_button(state: &'static str) -> Self {
        FlowError::UnexpectedInput {
            state,
            input: "a button of another screen",
        }
    }

    /// The Japanese message a screen shows.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::error::FlowError;
    /// assert_eq!(FlowError::LastSecurityEmail.message(), "セキュリティ用メールアドレスが1件のため削除できません。");
    /// ```
    pub fn message(&self) -> String {
        let text = match self {
            FlowError::Value(v) => return v.message(),
            FlowError::Form(f) => return f.message(),
            FlowError::Locked { until } => {
                let until = until.with_timezone(&crate::calendar::jst());
                return format!(
                    "ログインに連続して失敗したため、ユーザIDがロックされています。{}以降に再度ログインしてください。",
                    until.format("%Y年%m月%d日 %H:%M:%S")
                );
            }
            FlowError::ConfirmationMismatch => "確認用の入力内容が一致しません。",
            FlowError::WrongCredentials => "ユーザIDまたはパスワードが正しくありません。",
            FlowError::WrongSecurityCode => "セキュリティコードが正しくありません。",
            FlowError::TemporaryPasswordExpired => {
                "仮パスワードの有効期限が切れています。再度ログイン情報再発行申請を行ってください。"
            }
            FlowError::WrongCurrentPassword => "現在のパスワードが正しくありません。",
            FlowError::SameAsCurrentPassword => {
                "現在のパスワードと同じパスワードは入力できません。"
            }
            FlowError::WrongCode { .. } => "入力されたコードが正しくありません。",
            FlowError::CodeExpired => {
                "コードの有効期間が過ぎています。最初からやり直してください。"
            }
            FlowError::CodeExhausted => {
                "コードの入力誤りが上限に達したため、無効になりました。最初からやり直してください。"
            }
            FlowError::FlowExpired => "有効期間が過ぎています。最初からやり直してください。",
            FlowError::TooManyCodes | FlowError::MailBudgetExceeded => {
                "コードの送信回数が上限に達しました。しばらく時間をおいてから再度お試しください。"
            }
            FlowError::GuessBudgetExceeded => {
                "コードの入力誤りが上限に達しました。しばらく時間をおいてから再度お試しください。"
            }
            FlowError::UnexpectedInput { .. } => "この画面では行えない操作です。",
            FlowError::FlowFinished => "この処理は終了しています。",
            FlowError::GracePeriodOver => {
                "猶予期間が終了したため、セキュリティ用メールアドレスを登録せずにログインすることはできません。"
            }
            FlowError::SecurityEmailLimit => {
                "セキュリティ用メールアドレスは最大5つまで登録できます。"
            }
            FlowError::DuplicateSecurityEmail => {
                "このセキュリティ用メールアドレスは既に登録されています。"
            }
            FlowError::LastSecurityEmail => {
                "セキュリティ用メールアドレスが1件のため削除できません。"
            }
            FlowError::SecurityEmailNotRegistered => {
                "このセキュリティ用メールアドレスは登録されていません。"
            }
            FlowError::NoSecurityEmail => "セキュリティ用メールアドレスが登録されていません。",
            FlowError::AccountExists => "このユーザIDは既に登録されています。",
            FlowError::NotInLedger => "入力された事業所番号は事業所台帳に登録されていません。",
            FlowError::PrefectureNotOffered => "請求先都道府県を正しく選択してください。",
            FlowError::ProxyNotSupported => {
                "代理人のログイン情報を紛失した場合、国保連合会へお問い合わせください。"
            }
            FlowError::ApplicationPending => {
                "この事業所番号及び請求先都道府県のログイン情報再発行申請は審査中です。"
            }
            FlowError::WrongFederation => {
                "この申請を審査できるのは請求先都道府県の国保連合会のみです。"
            }
            FlowError::AlreadyReviewed => "この申請は審査済みです。",
            FlowError::NoSuchApplication => "該当する申請がありません。",
            FlowError::QueueCursorInvalid => {
                "一覧の表示位置が正しくありません。最初のページから表示し直してください。"
            }
            FlowError::QueuePageSize { .. } => "一覧の表示件数が正しくありません。",
            FlowError::SequenceExhausted => {
                "現在、申請を受け付けることができません。ヘルプデスクへお問い合わせください。"
            }
            FlowError::PrecautionsNotRead => "確認せずに証明書の発行申請は行えません。",
            FlowError::NoSuchAccount => "ユーザIDまたはパスワードが正しくありません。",
        };
        text.to_owned()
    }
}

/// What a [`Portal`](crate::portal::Portal) call can fail with: the user's refusal, or the host's
/// ports.
///
/// # Example
/// ```
/// use kaigo_seikyu::error::{FlowError, PortalError};
/// let e = PortalError::from(FlowError::CodeExpired);
/// assert_eq!(e.to_string(), "the code has expired");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortalError {
    /// The request was refused; the screen shows [`FlowError::message`].
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// No flow of this kind with this id (never started, finished and removed, or of another kind).
    #[error("no such flow")]
    NoSuchFlow,
    /// The store failed or kept losing the compare-and-swap race (SEC-02). Nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another port (mailer, notice board, ledger) failed after the state was saved.
    #[error("a port failed: {0}")]
    Port(String),
}

impl PortalError {
    /// The Japanese message a screen shows.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::error::PortalError;
    /// assert_eq!(PortalError::NoSuchFlow.message(), "最初からやり直してください。");
    /// ```
    pub fn message(&self) -> String {
        match self {
            PortalError::Flow(e) => e.message(),
            PortalError::NoSuchFlow => "最初からやり直してください。".into(),
            PortalError::Store(_) | PortalError::Port(_) => {
                "システムが混み合っています。しばらく時間をおいてから再度お試しください。".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::utc;

    /// LOGIN-02, CAL-05: the locked message names when the lock ends, in JST, to the second (the
    /// lockout's length is policy data), and says nothing of whether the password was right.
    #[test]
    fn login_02_locked_message_names_the_end_and_not_the_password() {
        let e = FlowError::Locked {
            until: utc("2026-01-10T01:30:30Z"),
        };
        assert_eq!(
            e.message(),
            "ログインに連続して失敗したため、ユーザIDがロックされています。2026年01月10日 10:30:30以降に再度ログインしてください。"
        );
        assert!(!e.message().contains("パスワード"));
    }
}
