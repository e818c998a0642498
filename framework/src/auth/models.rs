//! Users, groups and permissions: the rows of the `auth` migration's tables
//! and the queries on them. The SQL is written with `$1` placeholders for
//! both SQLite and PostgreSQL; booleans are read through `CASE` so that both
//! give integers to sqlx's `Any` driver.

use std::collections::BTreeSet;

use sqlx::AnyPool;
use sqlx::any::AnyRow;

use super::hashers::{PasswordHashers, is_password_usable, make_unusable_password};
use super::validators::UserAttributes;
use crate::error::{Error, Problem, Result};

/// The columns of a [`User`], in [`User::from_row`]'s order.
const USER_COLUMNS: &str = "id, username, email, first_name, last_name, password, \
     CASE WHEN is_active THEN 1 ELSE 0 END, CASE WHEN is_staff THEN 1 ELSE 0 END, \
     CASE WHEN is_superuser THEN 1 ELSE 0 END, last_login, date_joined";

/// Now, as stored in the timestamp columns: RFC 3339 in UTC, to the second.
pub(crate) fn now_timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A row of `auth_user`. Its `Debug` output leaves the password hash out
/// (as Django's `repr` of a user), so that logging a user leaks no hash.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The primary key.
    pub id: i64,
    /// Unique; letters, digits and `@.+-_`, up to 150 characters.
    pub username: String,
    /// May be empty.
    pub email: String,
    /// May be empty.
    pub first_name: String,
    /// May be empty.
    pub last_name: String,
    /// The password's hash (see [`super::hashers`]); never the password.
    pub password: String,
    /// An inactive user cannot log in and has no permission.
    pub is_active: bool,
    /// May use the admin pages.
    pub is_staff: bool,
    /// Has every permission (while active).
    pub is_superuser: bool,
    /// When the user last logged in (RFC 3339, UTC), if ever.
    pub last_login: Option<String>,
    /// When the account was created (RFC 3339, UTC).
    pub date_joined: String,
}

/// The fields of a user to create with [`User::create`]. Its `Debug`
/// output leaves the password out.
#[derive(Clone, Default)]
pub struct NewUser<'a> {
    /// The username (validated by [`validate_username`]).
    pub username: &'a str,
    /// The email address, or empty.
    pub email: &'a str,
    /// The password, hashed by the first hasher; `None` gives an unusable
    /// password (the user cannot log in with a password until one is set).
    pub password: Option<&'a str>,
    /// Staff member.
    pub is_staff: bool,
    /// Superuser.
    pub is_superuser: bool,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("password", &"<hidden>")
            .field("is_active", &self.is_active)
            .field("is_staff", &self.is_staff)
            .field("is_superuser", &self.is_superuser)
            .field("last_login", &self.last_login)
            .field("date_joined", &self.date_joined)
            .finish()
    }
}

impl std::fmt::Debug for NewUser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password", &self.password.map(|_| "<hidden>"))
            .field("is_staff", &self.is_staff)
            .field("is_superuser", &self.is_superuser)
            .finish()
    }
}

/// `username` in Unicode's compatibility composition (NFKC), as Django's
/// `normalize_username`: `ａｄｍｉｎ` (full-width) is `admin`, so that no
/// second account looks like the first, and typing either logs in.
pub fn normalize_username(username: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    username.nfkc().collect()
}

/// The most characters of a username (the `auth_user.username` column).
pub(crate) const USERNAME_MAX_LENGTH: usize = 150;

/// Django's username rule (`UnicodeUsernameValidator` and the 150
/// characters of the column): the message when `username` breaks it.
pub fn validate_username(username: &str) -> std::result::Result<(), String> {
    if username.is_empty() {
        return Err("This field cannot be blank.".into());
    }
    let count = username.chars().count();
    if count > USERNAME_MAX_LENGTH {
        return Err(crate::forms::max_length_message(USERNAME_MAX_LENGTH, count));
    }
    if !username
        .chars()
        .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
    {
        return Err("Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.".into());
    }
    Ok(())
}

/// The most characters of a user's `email` (the `auth_user.email`
/// column, as Django's `EmailField(max_length=254)`).
pub(crate) const EMAIL_MAX_LENGTH: usize = 254;

/// An email address as Django's `EmailValidator` checks a user's `email`:
/// at most [`EMAIL_MAX_LENGTH`] characters (PostgreSQL refuses a longer
/// one), then the rules of the forms' [`Email`](crate::forms::Email) field,
/// so `root@localhost` and `ops@[127.0.0.1]` are valid, `jane example.com`
/// (or a NUL, which PostgreSQL refuses) is not.
pub fn validate_email(email: &str) -> std::result::Result<(), String> {
    let count = email.chars().count();
    if count > EMAIL_MAX_LENGTH {
        return Err(crate::forms::max_length_message(EMAIL_MAX_LENGTH, count));
    }
    match crate::forms::Email::parse(email) {
        Some(_) => Ok(()),
        None => Err("Enter a valid email address.".into()),
    }
}

impl User {
    fn from_row(row: &AnyRow) -> Result<User> {
        use sqlx::Row as _;
        Ok(User {
            id: row.try_get(0)?,
            username: row.try_get(1)?,
            email: row.try_get(2)?,
            first_name: row.try_get(3)?,
            last_name: row.try_get(4)?,
            password: row.try_get(5)?,
            is_active: row.try_get::<i64, _>(6)? != 0,
            is_staff: row.try_get::<i64, _>(7)? != 0,
            is_superuser: row.try_get::<i64, _>(8)? != 0,
            last_login: row.try_get(9)?,
            date_joined: row.try_get(10)?,
        })
    }

    async fn fetch_where(
        pool: &AnyPool,
        condition: &'static str,
        value: impl ToString,
    ) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM auth_user WHERE {condition} = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(value.to_string())
            .fetch_optional(pool)
            .await?;
        row.as_ref().map(User::from_row).transpose()
    }

    /// The user called `username` (exact match), if any.
    pub async fn get_by_username(pool: &AnyPool, username: &str) -> Result<Option<User>> {
        // No username holds a NUL (`validate_username`), and PostgreSQL
        // refuses one in a query's text with an error: no such user.
        if username.contains('\0') {
            return Ok(None);
        }
        User::fetch_where(pool, "username", username).await
    }

    /// The active users whose email is `email`, compared without regard
    /// to ASCII case (Django's `email__iexact`), by id.
    pub async fn active_with_email(pool: &AnyPool, email: &str) -> Result<Vec<User>> {
        // As for a username: PostgreSQL refuses a NUL, and no address holds one.
        if email.contains('\0') {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM auth_user WHERE LOWER(email) = LOWER($1) AND is_active \
             ORDER BY id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(email)
            .fetch_all(pool)
            .await?;
        rows.iter().map(User::from_row).collect()
    }

    /// The user with this id, if any.
    pub async fn get(pool: &AnyPool, id: i64) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM auth_user WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(pool)
            .await?;
        row.as_ref().map(User::from_row).transpose()
    }

    /// Insert a user; its password is hashed with the first of `hashers`
    /// (password validators are the caller's business: see
    /// [`PasswordValidators`](super::PasswordValidators)). The username is
    /// stored [normalized](normalize_username). An invalid or taken
    /// username is an error saying so.
    pub async fn create(
        pool: &AnyPool,
        hashers: &PasswordHashers,
        new: NewUser<'_>,
    ) -> Result<User> {
        let username = normalize_username(new.username);
        let new = NewUser {
            username: &username,
            ..new
        };
        validate_username(new.username).map_err(|message| {
            Error::Config(Problem::new(format!(
                "username {:?}: {message}",
                new.username
            )))
        })?;
        let taken = || {
            Error::Config(
                Problem::new(format!("a user named {:?} already exists", new.username))
                    .with_hint("choose another username"),
            )
        };
        if User::get_by_username(pool, new.username).await?.is_some() {
            return Err(taken());
        }
        let password = match new.password {
            Some(password) => hashers.make_password_off_the_runtime(password).await?,
            None => make_unusable_password(),
        };
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO auth_user (password, is_superuser, username, email, is_staff, is_active, date_joined) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&password)
        .bind(new.is_superuser)
        .bind(new.username)
        .bind(new.email)
        .bind(new.is_staff)
        .bind(true)
        .bind(now_timestamp())
        .fetch_one(pool)
        .await
        .map_err(|error| match &error {
            // Made meanwhile by another process (two `createsuperuser` at
            // once, while this one hashed the password).
            sqlx::Error::Database(database) if database.is_unique_violation() => taken(),
            _ => error.into(),
        })?;
        User::get(pool, id)
            .await?
            .ok_or_else(|| Error::other(format!("user {id} vanished after its insert")))
    }

    /// The attributes the similarity validator compares a password with.
    pub fn attributes(&self) -> UserAttributes<'_> {
        UserAttributes {
            username: &self.username,
            email: &self.email,
            first_name: &self.first_name,
            last_name: &self.last_name,
        }
    }

    /// Whether the user has a password that can verify (not an unusable one).
    pub fn has_usable_password(&self) -> bool {
        is_password_usable(&self.password)
    }

    /// Hash `password` with the first hasher and store it.
    pub async fn set_password(
        &mut self,
        pool: &AnyPool,
        hashers: &PasswordHashers,
        password: &str,
    ) -> Result<()> {
        let encoded = hashers.make_password_off_the_runtime(password).await?;
        self.store_password(pool, encoded).await
    }

    /// Store an unusable password: the user can no longer log in with one.
    pub async fn set_unusable_password(&mut self, pool: &AnyPool) -> Result<()> {
        self.store_password(pool, make_unusable_password()).await
    }

    pub(crate) async fn store_password(&mut self, pool: &AnyPool, encoded: String) -> Result<()> {
        sqlx::query("UPDATE auth_user SET password = $1 WHERE id = $2")
            .bind(&encoded)
            .bind(self.id)
            .execute(pool)
            .await?;
        self.password = encoded;
        Ok(())
    }

    /// Record a login now (`last_login`).
    pub async fn update_last_login(&mut self, pool: &AnyPool) -> Result<()> {
        let now = now_timestamp();
        sqlx::query("UPDATE auth_user SET last_login = $1 WHERE id = $2")
            .bind(&now)
            .bind(self.id)
            .execute(pool)
            .await?;
        self.last_login = Some(now);
        Ok(())
    }

    /// Make the user active or not.
    pub async fn set_active(&mut self, pool: &AnyPool, active: bool) -> Result<()> {
        sqlx::query("UPDATE auth_user SET is_active = $1 WHERE id = $2")
            .bind(active)
            .bind(self.id)
            .execute(pool)
            .await?;
        self.is_active = active;
        Ok(())
    }

    /// The user's permissions, its own and its groups', as
    /// `app_label.codename`; none for an inactive user, every one for an
    /// active superuser.
    pub async fn get_all_permissions(&self, pool: &AnyPool) -> Result<BTreeSet<String>> {
        if !self.is_active {
            return Ok(BTreeSet::new());
        }
        let rows: Vec<(String, String)> = if self.is_superuser {
            sqlx::query_as("SELECT app_label, codename FROM auth_permission")
                .fetch_all(pool)
                .await?
        } else {
            sqlx::query_as(
                "SELECT p.app_label, p.codename FROM auth_permission p \
                 JOIN auth_user_user_permissions up ON up.permission_id = p.id WHERE up.user_id = $1 \
                 UNION \
                 SELECT p.app_label, p.codename FROM auth_permission p \
                 JOIN auth_group_permissions gp ON gp.permission_id = p.id \
                 JOIN auth_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = $1",
            )
            .bind(self.id)
            .fetch_all(pool)
            .await?
        };
        Ok(rows
            .into_iter()
            .map(|(app, codename)| format!("{app}.{codename}"))
            .collect())
    }

    /// Whether the user has `permission` (`"polls.add_question"`): an active
    /// superuser has every one, whether it exists or not (as Django); an
    /// inactive user none; others the ones given to them or to a group of
    /// theirs.
    pub async fn has_perm(&self, pool: &AnyPool, permission: &str) -> Result<bool> {
        if self.is_active && self.is_superuser {
            return Ok(true);
        }
        Ok(self.get_all_permissions(pool).await?.contains(permission))
    }

    /// Whether the user has every one of `permissions`.
    pub async fn has_perms(&self, pool: &AnyPool, permissions: &[&str]) -> Result<bool> {
        if self.is_active && self.is_superuser {
            return Ok(true);
        }
        let all = self.get_all_permissions(pool).await?;
        Ok(permissions.iter().all(|p| all.contains(*p)))
    }

    /// Give the user `permission` (`"polls.add_question"`), which must exist.
    pub async fn add_permission(&self, pool: &AnyPool, permission: &str) -> Result<()> {
        grant(
            pool,
            "auth_user_user_permissions",
            "user_id",
            self.id,
            permission,
        )
        .await
    }

    /// Put the user in `group`.
    pub async fn add_to_group(&self, pool: &AnyPool, group: &Group) -> Result<()> {
        sqlx::query(
            "INSERT INTO auth_user_groups (user_id, group_id) VALUES ($1, $2) \
             ON CONFLICT (user_id, group_id) DO NOTHING",
        )
        .bind(self.id)
        .bind(group.id)
        .execute(pool)
        .await?;
        Ok(())
    }
}

/// Link `permission` (`"polls.add_question"`, which must exist) to the row
/// `owner_id` in `table`, the permissions of a user or of a group, once.
async fn grant(
    pool: &AnyPool,
    table: &'static str,
    owner_column: &'static str,
    owner_id: i64,
    permission: &str,
) -> Result<()> {
    let permission = Permission::get(pool, permission).await?;
    let sql = format!(
        "INSERT INTO {table} ({owner_column}, permission_id) VALUES ($1, $2) \
         ON CONFLICT ({owner_column}, permission_id) DO NOTHING"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(owner_id)
        .bind(permission.id)
        .execute(pool)
        .await?;
    Ok(())
}

/// A row of `auth_group`: users in it get its permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The primary key.
    pub id: i64,
    /// Unique.
    pub name: String,
}

impl Group {
    /// Create a group called `name`.
    pub async fn create(pool: &AnyPool, name: &str) -> Result<Group> {
        let (id,): (i64,) =
            sqlx::query_as("INSERT INTO auth_group (name) VALUES ($1) RETURNING id")
                .bind(name)
                .fetch_one(pool)
                .await?;
        Ok(Group {
            id,
            name: name.to_string(),
        })
    }

    /// The group called `name`, if any.
    pub async fn get_by_name(pool: &AnyPool, name: &str) -> Result<Option<Group>> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT id, name FROM auth_group WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?;
        Ok(row.map(|(id, name)| Group { id, name }))
    }

    /// Give the group's users `permission` (`"polls.add_question"`), which
    /// must exist.
    pub async fn add_permission(&self, pool: &AnyPool, permission: &str) -> Result<()> {
        grant(
            pool,
            "auth_group_permissions",
            "group_id",
            self.id,
            permission,
        )
        .await
    }
}

/// A row of `auth_permission`: `polls.add_question` is the app label
/// `polls` and the codename `add_question`. Apps declare theirs with
/// [`App::permission`](crate::App::permission); `migrate` inserts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// The primary key.
    pub id: i64,
    /// The app's label.
    pub app_label: String,
    /// The permission's name within the app (`add_question`).
    pub codename: String,
    /// What it allows, for people (`Can add question`).
    pub name: String,
}

impl Permission {
    /// The permission `app_label.codename`; an error naming it when it does
    /// not exist.
    pub async fn get(pool: &AnyPool, permission: &str) -> Result<Permission> {
        let not_found = || {
            Error::Config(
                Problem::new(format!("there is no permission {permission:?}"))
                    .with_hint("write it as app_label.codename, declare it with App::permission and run `manage migrate`"),
            )
        };
        let (app_label, codename) = permission.split_once('.').ok_or_else(not_found)?;
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT id, name FROM auth_permission WHERE app_label = $1 AND codename = $2",
        )
        .bind(app_label)
        .bind(codename)
        .fetch_optional(pool)
        .await?;
        let (id, name) = row.ok_or_else(not_found)?;
        Ok(Permission {
            id,
            app_label: app_label.to_string(),
            codename: codename.to_string(),
            name,
        })
    }

    /// The `(app_label, codename)` of every permission there is.
    pub(crate) async fn all_names(
        pool: &AnyPool,
    ) -> Result<std::collections::HashSet<(String, String)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT app_label, codename FROM auth_permission")
                .fetch_all(pool)
                .await?;
        Ok(rows.into_iter().collect())
    }

    /// Insert `app_label.codename` unless it exists (its name is then left
    /// as it is). Returns whether it was inserted.
    pub async fn ensure(
        pool: &AnyPool,
        app_label: &str,
        codename: &str,
        name: &str,
    ) -> Result<bool> {
        let result = sqlx::query(
            "INSERT INTO auth_permission (app_label, codename, name) VALUES ($1, $2, $3) \
             ON CONFLICT (app_label, codename) DO NOTHING",
        )
        .bind(app_label)
        .bind(codename)
        .bind(name)
        .execute(pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }
}
