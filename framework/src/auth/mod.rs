//! Users, as Django's `contrib.auth`: a user table with groups and named
//! permissions, password hashing and validation, and [`authenticate`].
//!
//! Every project has it: `manage migrate` applies the `auth` migrations
//! (tables `auth_user`, `auth_group`, `auth_permission`,
//! `auth_user_groups`, `auth_group_permissions`,
//! `auth_user_user_permissions`, with Django's columns) before the project's
//! and its apps', then inserts the permissions the apps declare with
//! [`App::permission`](crate::App::permission). `manage createsuperuser`
//! and `manage changepassword` manage accounts from the command line.
//!
//! ```no_run
//! use nuages::auth::{PasswordHashers, User, authenticate};
//! # async fn login(pool: sqlx::AnyPool, settings: &nuages::conf::Settings) -> nuages::Result<()> {
//! let hashers = PasswordHashers::from_settings(settings)?;
//! if let Some(user) = authenticate(&pool, &hashers, "jane", "plum-violin-orbit").await? {
//!     assert!(user.is_active);
//!     let may_vote = user.has_perm(&pool, "polls.vote").await?;
//! }
//! # Ok(()) }
//! ```
//!
//! Settings: `password_hashers` (the first hashes new passwords; see
//! [`hashers`]), `argon2_memory_cost`, `argon2_time_cost`,
//! `argon2_parallelism`, `pbkdf2_iterations`, `auth_password_validators`
//! and `password_min_length` (see [`validators`]); `login_throttle_*` and
//! `trusted_proxies` (see [`throttle`]).

pub mod hashers;
pub mod login;
pub mod models;
pub mod password_change;
pub mod password_reset;
pub mod throttle;
pub mod validators;
pub mod views;

use sqlx::AnyPool;

pub use hashers::{Hasher, PasswordHashers, Verification};
pub use login::{
    Auth, CurrentUser, LoginRejection, LoginRequired, PermissionRequired, RequiredPermission,
    StaffRequired,
};
pub use models::{Group, NewUser, Permission, User};
pub use password_reset::PasswordResetTokenGenerator;
pub use validators::{PasswordValidator, PasswordValidators, UserAttributes};
pub use views::urls;

use crate::error::{Error, Problem, Result};
use crate::migrations::MigrationSet;
use crate::project::Project;

/// The app label of the auth tables' migrations.
pub const LABEL: &str = "auth";

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("src/auth/migrations");

/// The `auth` migration set, which every project applies first.
pub(crate) fn migration_set() -> MigrationSet {
    MigrationSet {
        label: LABEL.to_string(),
        migrator: &MIGRATIONS,
    }
}

/// The error for a `key` list entry `name` that is none of `names` (a
/// hasher, a validator), with the closest known name.
fn unknown_name(key: &str, what: &str, name: &str, names: &[&str]) -> Error {
    let close = crate::conf::closest_name(name, names.iter().copied())
        .map(|c| format!("did you mean \"{c}\"? "))
        .unwrap_or_default();
    Error::Config(
        Problem::new(format!("{key} names an unknown {what} \"{name}\"")).with_hint(format!(
            "{close}the {what}s are {}",
            crate::conf::keys::quoted_list(names, "and")
        )),
    )
}

/// Check the auth settings as the application does when it is built:
/// hashers and validators that exist, with parameters they accept.
pub(crate) fn check_settings(settings: &crate::conf::Settings) -> Result<()> {
    PasswordHashers::from_settings(settings)?;
    PasswordValidators::from_settings(settings)?;
    password_reset::check_timeout(settings)?;
    throttle::validate(settings)?;
    Ok(())
}

/// The user called `username` if `password` is theirs and they are active,
/// else `None`; as Django's `authenticate` with its model backend:
///
/// - a hash of a hasher other than the first of `password_hashers`, or of
///   the first with other parameters, is replaced by a new one once the
///   password is verified;
/// - when no user has that name, the password is hashed all the same, so
///   that the time taken does not tell which usernames exist;
/// - an inactive user is refused (after the password is checked, as Django).
///
/// Hashing runs on a blocking thread, not on the async workers, one per
/// core at a time (see [`PasswordHashers`]).
pub async fn authenticate(
    pool: &AnyPool,
    hashers: &PasswordHashers,
    username: &str,
    password: &str,
) -> Result<Option<User>> {
    let found = User::get_by_username(pool, username).await?;
    let encoded = found.as_ref().map(|user| user.password.as_str());
    let verification = hashers
        .check_password_off_the_runtime(password, encoded)
        .await?;
    let Some(mut user) = found else {
        return Ok(None);
    };
    match verification {
        Verification::Mismatch => return Ok(None),
        Verification::MatchOutdated => user.set_password(pool, hashers, password).await?,
        Verification::Match => {}
    }
    Ok(user.is_active.then_some(user))
}

/// Insert the permissions `project`'s apps declare that the database lacks;
/// `migrate` runs it after the migrations. Returns how many were added.
pub(crate) async fn sync_permissions(pool: &AnyPool, project: &Project) -> Result<usize> {
    // Read first: with every permission there, nothing is written (a
    // `migrate` with nothing to do works on a database it may only read,
    // as Django's does).
    let existing = Permission::all_names(pool).await?;
    let mut added = 0;
    for app in project.installed_apps() {
        for (codename, name) in app.permissions() {
            if existing.contains(&(app.label().to_string(), codename.to_string())) {
                continue;
            }
            if Permission::ensure(pool, app.label(), codename, name).await? {
                added += 1;
            }
        }
    }
    Ok(added)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A migrated SQLite database in a temporary folder.

    use sqlx::AnyPool;

    use crate::conf::Settings;

    /// A fresh database with the auth tables; keep the folder alive.
    pub async fn migrated_pool() -> (tempfile::TempDir, AnyPool) {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::defaults_in(dir.path());
        let pool = crate::db::Databases::new(&settings)
            .get(crate::db::DEFAULT_ALIAS)
            .await
            .unwrap();
        crate::migrations::apply(&pool, &[super::migration_set()], |_| {})
            .await
            .unwrap();
        (dir, pool)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::migrated_pool;
    use super::*;

    fn fast_hashers() -> PasswordHashers {
        PasswordHashers::new(vec![Hasher::Argon2 {
            memory_cost: 1024,
            time_cost: 1,
            parallelism: 1,
        }])
        .unwrap()
    }

    async fn stored_hash(pool: &AnyPool, username: &str) -> String {
        let (hash,): (String,) =
            sqlx::query_as("SELECT password FROM auth_user WHERE username = $1")
                .bind(username)
                .fetch_one(pool)
                .await
                .unwrap();
        hash
    }

    async fn create(
        pool: &AnyPool,
        hashers: &PasswordHashers,
        username: &str,
        password: Option<&str>,
    ) -> User {
        User::create(
            pool,
            hashers,
            NewUser {
                username,
                email: "",
                password,
                ..NewUser::default()
            },
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn authenticate_checks_the_password_and_refuses_inactive_users() {
        let (_dir, pool) = migrated_pool().await;
        let hashers = fast_hashers();
        let mut jane = create(&pool, &hashers, "jane", Some("plum-violin-orbit")).await;
        assert!(
            jane.is_active && !jane.is_staff && !jane.is_superuser && jane.last_login.is_none()
        );
        assert!(jane.date_joined.ends_with('Z'), "{}", jane.date_joined);
        assert!(stored_hash(&pool, "jane").await.starts_with("$argon2id$"));

        let found = authenticate(&pool, &hashers, "jane", "plum-violin-orbit")
            .await
            .unwrap();
        assert_eq!(found.as_ref().map(|u| u.id), Some(jane.id));
        assert!(
            authenticate(&pool, &hashers, "jane", "plum-violin")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            authenticate(&pool, &hashers, "Jane", "plum-violin-orbit")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            authenticate(&pool, &hashers, "nobody", "plum-violin-orbit")
                .await
                .unwrap()
                .is_none()
        );

        jane.set_active(&pool, false).await.unwrap();
        assert!(
            authenticate(&pool, &hashers, "jane", "plum-violin-orbit")
                .await
                .unwrap()
                .is_none()
        );

        let keyless = create(&pool, &hashers, "keyless", None).await;
        assert!(!keyless.has_usable_password());
        assert!(
            authenticate(&pool, &hashers, "keyless", "")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            authenticate(&pool, &hashers, "keyless", &keyless.password)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn an_unknown_username_costs_a_hash_too() {
        let (_dir, pool) = migrated_pool().await;
        let defaults = PasswordHashers::from_settings(&crate::conf::Settings::default()).unwrap();
        create(&pool, &defaults, "jane", Some("plum-violin-orbit")).await;
        // The quickest of a few tries each, taken in turns so that both see
        // the same moments of a busy machine. Without the hash for unknown
        // names, one is some eighty times quicker than the other; with
        // it, about as slow: a factor of five between them decides.
        let attempt = |username: &'static str| {
            let (pool, hashers) = (pool.clone(), defaults.clone());
            async move {
                let started = std::time::Instant::now();
                let found = authenticate(&pool, &hashers, username, "wrong")
                    .await
                    .unwrap();
                assert!(found.is_none());
                started.elapsed()
            }
        };
        let (mut known, mut unknown) = (std::time::Duration::MAX, std::time::Duration::MAX);
        for _ in 0..5 {
            known = known.min(attempt("jane").await);
            unknown = unknown.min(attempt("nobody").await);
        }
        assert!(
            unknown * 5 >= known,
            "an unknown user took {unknown:?}, a known one {known:?}: the time tells"
        );
    }

    #[tokio::test]
    async fn authenticate_upgrades_older_argon2_parameters() {
        let (_dir, pool) = migrated_pool().await;
        let older = PasswordHashers::new(vec![Hasher::Argon2 {
            memory_cost: 512,
            time_cost: 1,
            parallelism: 1,
        }])
        .unwrap();
        create(&pool, &older, "jane", Some("plum-violin-orbit")).await;
        let before = stored_hash(&pool, "jane").await;
        assert!(before.contains("m=512,t=1,p=1"), "{before}");

        let current = fast_hashers();
        assert!(
            authenticate(&pool, &current, "jane", "wrong")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            stored_hash(&pool, "jane").await,
            before,
            "a wrong password upgrades nothing"
        );
        let user = authenticate(&pool, &current, "jane", "plum-violin-orbit")
            .await
            .unwrap()
            .unwrap();
        let after = stored_hash(&pool, "jane").await;
        assert!(
            after.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
            "{after}"
        );
        assert_eq!(user.password, after);
        assert!(
            authenticate(&pool, &current, "jane", "plum-violin-orbit")
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            stored_hash(&pool, "jane").await,
            after,
            "an up-to-date hash stays"
        );
    }

    #[tokio::test]
    async fn a_django_users_pbkdf2_hash_logs_in_and_becomes_argon2() {
        let (_dir, pool) = migrated_pool().await;
        // A row copied from a Django site's auth_user.
        sqlx::query("INSERT INTO auth_user (password, username, email, date_joined) VALUES ($1, 'django', 'd@example.com', '2024-01-01T00:00:00Z')")
            .bind(hashers::tests::DJANGO_PBKDF2_OLD)
            .execute(&pool)
            .await
            .unwrap();
        let defaults = PasswordHashers::from_settings(&crate::conf::Settings::default()).unwrap();
        assert!(
            authenticate(&pool, &defaults, "django", "correct horse battery")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            stored_hash(&pool, "django").await,
            hashers::tests::DJANGO_PBKDF2_OLD
        );
        let user = authenticate(&pool, &defaults, "django", "correct horse battery staple")
            .await
            .unwrap();
        assert_eq!(user.map(|u| u.email).as_deref(), Some("d@example.com"));
        let after = stored_hash(&pool, "django").await;
        assert!(
            after.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{after}"
        );
        assert_eq!(
            defaults.check_password("correct horse battery staple", &after),
            Verification::Match
        );
    }

    #[tokio::test]
    async fn has_perm_follows_djangos_rules() {
        let (_dir, pool) = migrated_pool().await;
        let hashers = fast_hashers();
        for codename in ["add_question", "change_question", "vote"] {
            assert!(
                Permission::ensure(&pool, "polls", codename, "Can do it")
                    .await
                    .unwrap()
            );
        }
        assert!(
            !Permission::ensure(&pool, "polls", "vote", "again")
                .await
                .unwrap(),
            "once"
        );

        let plain = create(&pool, &hashers, "plain", None).await;
        let direct = create(&pool, &hashers, "direct", None).await;
        let member = create(&pool, &hashers, "member", None).await;
        let mut boss = create(&pool, &hashers, "boss", None).await;
        sqlx::query("UPDATE auth_user SET is_superuser = $1 WHERE id = $2")
            .bind(true)
            .bind(boss.id)
            .execute(&pool)
            .await
            .unwrap();
        boss = User::get(&pool, boss.id).await.unwrap().unwrap();
        assert!(boss.is_superuser);

        direct.add_permission(&pool, "polls.vote").await.unwrap();
        direct.add_permission(&pool, "polls.vote").await.unwrap();
        let editors = Group::create(&pool, "editors").await.unwrap();
        editors
            .add_permission(&pool, "polls.add_question")
            .await
            .unwrap();
        editors
            .add_permission(&pool, "polls.change_question")
            .await
            .unwrap();
        member.add_to_group(&pool, &editors).await.unwrap();
        member.add_permission(&pool, "polls.vote").await.unwrap();
        assert_eq!(
            Group::get_by_name(&pool, "editors").await.unwrap(),
            Some(editors.clone())
        );

        let error = direct.add_permission(&pool, "polls.fly").await.unwrap_err();
        assert_eq!(error.to_string(), "there is no permission \"polls.fly\"");

        // (user, permission, expected)
        let matrix = [
            (&plain, "polls.vote", false),
            (&direct, "polls.vote", true),
            (&direct, "polls.add_question", false),
            (&member, "polls.add_question", true),
            (&member, "polls.change_question", true),
            (&member, "polls.vote", true),
            (&member, "polls.delete_question", false),
            (&boss, "polls.delete_question", true),
            (&boss, "anything.at_all", true),
        ];
        for (user, permission, expected) in matrix {
            assert_eq!(
                user.has_perm(&pool, permission).await.unwrap(),
                expected,
                "{} {permission}",
                user.username
            );
        }
        assert_eq!(
            member
                .get_all_permissions(&pool)
                .await
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            ["polls.add_question", "polls.change_question", "polls.vote"]
        );
        assert!(
            member
                .has_perms(&pool, &["polls.add_question", "polls.vote"])
                .await
                .unwrap()
        );
        assert!(
            !direct
                .has_perms(&pool, &["polls.add_question", "polls.vote"])
                .await
                .unwrap()
        );

        for mut user in [direct, member, boss] {
            user.set_active(&pool, false).await.unwrap();
            assert!(
                !user.has_perm(&pool, "polls.vote").await.unwrap(),
                "inactive {}",
                user.username
            );
            assert!(user.get_all_permissions(&pool).await.unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn usernames_are_unique_and_validated() {
        let (_dir, pool) = migrated_pool().await;
        let hashers = fast_hashers();
        create(&pool, &hashers, "jane", None).await;
        let taken = User::create(
            &pool,
            &hashers,
            NewUser {
                username: "jane",
                ..NewUser::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(taken.to_string(), "a user named \"jane\" already exists");
        let invalid = User::create(
            &pool,
            &hashers,
            NewUser {
                username: "jane doe",
                ..NewUser::default()
            },
        )
        .await
        .unwrap_err();
        assert!(
            invalid.to_string().contains("Enter a valid username."),
            "{invalid}"
        );
        assert!(models::validate_username("jane.doe+1@home").is_ok());
        assert_eq!(
            models::validate_username(&"é".repeat(151)).unwrap_err(),
            "Ensure this value has at most 150 characters (it has 151)."
        );
        assert!(models::validate_email("jane@example.com").is_ok());
        // As Django's EmailValidator (its domain_allowlist, IP literals).
        assert!(models::validate_email("jane@localhost").is_ok());
        assert!(models::validate_email("ops@[127.0.0.1]").is_ok());
        assert!(models::validate_email("jane@example").is_err());
        assert!(models::validate_email("jane example.com").is_err());
        assert!(models::validate_email("jane\0@example.com").is_err());
        // As Django's `EmailField(max_length=254)` (the column's size: a
        // longer address, valid as one, is refused by PostgreSQL).
        let long = format!(
            "{}@{}example.com",
            "j".repeat(64),
            format!("{}.", "d".repeat(63)).repeat(3)
        );
        assert_eq!(
            models::validate_email(&long).unwrap_err(),
            "Ensure this value has at most 254 characters (it has 268)."
        );
    }
}
