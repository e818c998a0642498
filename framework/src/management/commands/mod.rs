//! The built-in management commands, one file each, as Django's
//! `core/management/commands/`.

pub(crate) mod changepassword;
pub(crate) mod check;
pub(crate) mod clearsessions;
pub(crate) mod collectstatic;
pub(crate) mod createsuperuser;
pub(crate) mod deployconfig;
pub mod diffsettings;
pub(crate) mod migrate;
pub(crate) mod runserver;
pub(crate) mod sendtestemail;
pub(crate) mod serve;
pub(crate) mod showmigrations;
pub(crate) mod showurls;
pub mod startapp;

use super::Command;

/// Every built-in command.
pub(crate) fn builtin() -> Vec<Box<dyn Command>> {
    vec![
        Box::new(check::Check),
        Box::new(clearsessions::ClearSessions),
        Box::new(deployconfig::DeployConfig),
        Box::new(collectstatic::CollectStatic),
        Box::new(createsuperuser::CreateSuperuser),
        Box::new(changepassword::ChangePassword),
        Box::new(diffsettings::DiffSettings),
        Box::new(runserver::RunServer),
        Box::new(sendtestemail::SendTestEmail),
        Box::new(serve::Serve),
        Box::new(migrate::Migrate),
        Box::new(showmigrations::ShowMigrations),
        Box::new(showurls::ShowUrls),
        Box::new(startapp::StartApp),
    ]
}
