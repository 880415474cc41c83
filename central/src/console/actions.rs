//! What the console's own log records (`console_log.action`): one kind per thing done,
//! each with its word in the table and its words on the page (`catalogue::action`, which
//! matches every kind, so a new one cannot be shown as a bare code).

/// One kind of entry in the console's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogAction {
    /// A console account logged in.
    Login,
    /// A login was refused (wrong password, too many attempts).
    LoginRefused,
    /// A console account logged out.
    Logout,
    /// A visit list was shown.
    ViewVisits,
    /// A visit list was exported.
    ExportVisits,
    /// A site's page was shown.
    ViewSite,
    /// An alarm was acknowledged.
    AckAlarm,
    /// A request was refused (not allowed, another site).
    Refused,
    /// The auditor checked a read of personal data.
    CheckRead,
    /// A member of staff signed in to the staff app.
    StaffSignIn,
    /// Staff were refused (sign-in, certificate).
    StaffRefused,
    /// A shift certificate was issued.
    StaffCertificate,
    /// A member of staff reported that they could not get in.
    StaffReport,
    /// The issuer's revocation list was published.
    StaffRevocations,
    /// Personal data past its time was erased.
    ErasePersonal,
}

impl LogAction {
    /// Every kind.
    pub const ALL: [LogAction; 15] = [
        LogAction::Login,
        LogAction::LoginRefused,
        LogAction::Logout,
        LogAction::ViewVisits,
        LogAction::ExportVisits,
        LogAction::ViewSite,
        LogAction::AckAlarm,
        LogAction::Refused,
        LogAction::CheckRead,
        LogAction::StaffSignIn,
        LogAction::StaffRefused,
        LogAction::StaffCertificate,
        LogAction::StaffReport,
        LogAction::StaffRevocations,
        LogAction::ErasePersonal,
    ];

    /// Its word in `console_log.action`.
    pub fn code(self) -> &'static str {
        match self {
            LogAction::Login => "login",
            LogAction::LoginRefused => "login_refused",
            LogAction::Logout => "logout",
            LogAction::ViewVisits => "view_visits",
            LogAction::ExportVisits => "export_visits",
            LogAction::ViewSite => "view_site",
            LogAction::AckAlarm => "ack_alarm",
            LogAction::Refused => "refused",
            LogAction::CheckRead => "check_read",
            LogAction::StaffSignIn => "staff_sign_in",
            LogAction::StaffRefused => "staff_refused",
            LogAction::StaffCertificate => "staff_certificate",
            LogAction::StaffReport => "staff_report",
            LogAction::StaffRevocations => "staff_revocations",
            LogAction::ErasePersonal => "erase_personal",
        }
    }

    /// The kind its word names.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_word_and_is_found_by_it() {
        for (i, a) in LogAction::ALL.iter().enumerate() {
            assert_eq!(LogAction::from_code(a.code()), Some(*a));
            assert!(!LogAction::ALL[..i].iter().any(|b| b.code() == a.code()), "{a:?}");
        }
    }
}
