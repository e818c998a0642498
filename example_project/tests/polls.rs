//! The polls app through the test client: each view, the validation error,
//! the 404s and the CSRF guard, the staff page that adds a question (login,
//! permission, form errors, the rows and the message), and the `seed`
//! command. Each test runs
//! twice: on a real SQLite file in a temporary folder (module `sqlite`) and
//! on a fresh database of a real PostgreSQL server the tests start
//! (module `postgres`).

use nuages::auth::{NewUser, PasswordHashers, Permission, User};
use nuages::sqlx::AnyPool;
use nuages::test::{Client, TestResponse};
use nuages::{Application, timezone};
use nuages_e2e::postgres::Backend;

use mysite::polls::models::{Choice, Question};

/// The password of every user the tests create.
const PASSWORD: &str = "plum-violin-orbit-42";

nuages_e2e::on_both_databases!(
    async: index_lists_the_five_latest_and_never_future_ones,
    the_projects_middleware_section_state_and_filter_are_used,
    detail_shows_the_form_with_a_csrf_field,
    missing_and_future_questions_are_404,
    a_vote_counts_once_and_redirects_to_the_results,
    voting_without_a_choice_shows_the_form_again_with_an_error,
    voting_needs_post_and_a_csrf_token,
    adding_a_question_needs_a_login_and_the_add_question_permission,
    an_invalid_question_is_shown_again_with_its_errors_and_nothing_is_added,
    a_valid_question_is_added_with_its_choices_and_a_message_shown_once,
    nul_characters_are_form_errors_never_database_errors;
    sync: the_seed_command_adds_samples_only_once
);

/// Settings that extend the example's, with its folders and a database of
/// the test's own (relative paths would resolve against the temporary
/// folder); `None` when `backend` is not installed (outside CI).
fn test_settings(base: &std::path::Path, backend: Backend, sqlite_file: &str) -> Option<String> {
    let project = base.parent().unwrap().display().to_string();
    let url = backend.url(&format!("sqlite://db/{sqlite_file}"))?;
    Some(format!(
        "extends = {:?}\ntemplate_dirs = [\"{project}/templates\"]\nstaticfiles_dirs = [\"{project}/static\"]\n[databases.default]\nurl = \"{url}\"\n",
        base.display().to_string()
    ))
}

struct Site {
    _dir: tempfile::TempDir,
    client: Client,
    application: Application,
}

/// The example's settings with a database of its own on `backend`, migrated.
async fn site(backend: Backend) -> Option<Site> {
    site_with(backend, "").await
}

/// The same with `extra` lines at the end of the settings file.
async fn site_with(backend: Backend, extra: &str) -> Option<Site> {
    let dir = tempfile::tempdir().unwrap();
    let settings_file = dir.path().join("settings.toml");
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("settings.toml");
    std::fs::write(
        &settings_file,
        test_settings(&base, backend, "test.sqlite3")? + extra,
    )
    .unwrap();
    let project = mysite::wsgi::project();
    let settings = project
        .settings_loader(&settings_file)
        .env(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    let application = Application::new(project.clone(), settings).unwrap();
    let pool = application.databases().get("default").await.unwrap();
    nuages::migrations::apply(&pool, &nuages::migrations::sets(&project), |_| {})
        .await
        .unwrap();
    // What `manage migrate` adds after the migrations: the apps' permissions.
    for app in project.installed_apps() {
        for (codename, name) in app.permissions() {
            Permission::ensure(&pool, app.label(), codename, name)
                .await
                .unwrap();
        }
    }
    Some(Site {
        _dir: dir,
        client: Client::new(application.clone()),
        application,
    })
}

impl Site {
    async fn pool(&self) -> AnyPool {
        self.application.databases().get("default").await.unwrap()
    }

    async fn question(&self, text: &str, minutes_from_now: i64, choices: &[&str]) -> i64 {
        let pool = self.pool().await;
        let when = timezone::to_db(
            timezone::now() + timezone::chrono::Duration::minutes(minutes_from_now),
        );
        Question::create(&pool, text, &when, choices).await.unwrap()
    }

    async fn votes(&self, question: i64) -> Vec<i64> {
        let pool = self.application.databases().get("default").await.unwrap();
        mysite::polls::models::Choice::of(&pool, question)
            .await
            .unwrap()
            .iter()
            .map(|c| c.votes)
            .collect()
    }

    /// GET the vote form and POST `choice` with the token the page carries,
    /// as a browser does.
    async fn vote(&self, question: i64, choice: Option<i64>) -> TestResponse {
        let choice = choice.map(|c| c.to_string());
        let fields: Vec<(&str, &str)> = choice.iter().map(|c| ("choice", c.as_str())).collect();
        submit(
            &self.client,
            &format!("/polls/{question}/"),
            &format!("/polls/{question}/vote/"),
            &fields,
        )
        .await
    }

    /// A new user `username` (a superuser, or not even staff), with these
    /// permissions, and a client logged in as them through the login page.
    async fn logged_in(&self, username: &str, superuser: bool, permissions: &[&str]) -> Client {
        let pool = self.pool().await;
        let hashers = PasswordHashers::from_settings(self.application.settings()).unwrap();
        let new = NewUser {
            username,
            password: Some(PASSWORD),
            is_staff: superuser,
            is_superuser: superuser,
            ..NewUser::default()
        };
        let user = User::create(&pool, &hashers, new).await.unwrap();
        for permission in permissions {
            user.add_permission(&pool, permission).await.unwrap();
        }
        let client = Client::new(self.application.clone());
        let login = [("username", username), ("password", PASSWORD)];
        let response = submit(&client, "/accounts/login/", "/accounts/login/", &login).await;
        assert_eq!(response.status, 302, "{}", response.text());
        client
    }

    /// The questions, and the texts of their choices.
    async fn questions(&self) -> Vec<(String, Vec<String>)> {
        let pool = self.pool().await;
        let mut all = Vec::new();
        for question in Question::latest(&pool, 100).await.unwrap() {
            let choices = Choice::of(&pool, question.id).await.unwrap();
            let texts = choices.into_iter().map(|c| c.choice_text).collect();
            all.push((question.question_text, texts));
        }
        all
    }
}

/// GET the form page at `page` with `client`, then POST `fields` to
/// `action` with the CSRF token the page carries, as a browser does.
async fn submit(
    client: &Client,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> TestResponse {
    let form = client.get(page).await;
    assert_eq!(form.status, 200, "{}", form.text());
    let token = hidden_token(&form.text());
    let mut all = vec![("csrfmiddlewaretoken", token.as_str())];
    all.extend_from_slice(fields);
    client.post_form(action, &all).await
}

fn hidden_token(html: &str) -> String {
    let at = html
        .find("name=\"csrfmiddlewaretoken\" value=\"")
        .expect("the form has a CSRF field");
    let rest = &html[at + "name=\"csrfmiddlewaretoken\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

async fn index_lists_the_five_latest_and_never_future_ones(backend: Backend) {
    let Some(site) = site(backend).await else {
        return;
    };
    let empty = site.client.get("/polls/").await;
    assert_eq!(empty.status, 200);
    assert!(empty.text().contains("No polls are available."));
    for n in 1..=6 {
        site.question(&format!("Past question {n}"), -60 + n, &["a"])
            .await;
    }
    site.question("Future question", 30, &["a"]).await;
    let page = site.client.get("/polls/").await.text();
    assert!(!page.contains("Future question"), "{page}");
    assert!(!page.contains("Past question 1<"), "only five: {page}");
    for n in 2..=6 {
        assert!(page.contains(&format!("Past question {n}<")), "{page}");
    }
    let newest = page.find("Past question 6").unwrap();
    let older = page.find("Past question 2").unwrap();
    assert!(newest < older, "newest first");
    assert!(page.contains("/static/polls/style.css"), "{page}");
}

async fn the_projects_middleware_section_state_and_filter_are_used(backend: Backend) {
    let Some(site) = site_with(backend, "[polls]\nlatest_count = 2\n").await else {
        return;
    };
    for n in 1..=3 {
        site.question(&format!("Past question {n}"), -60 + n, &["a"])
            .await;
    }
    let index = site.client.get("/polls/").await;
    // The timing middleware, placed by the settings' middleware list.
    let timing = index
        .header("server-timing")
        .unwrap_or_default()
        .to_string();
    assert!(timing.starts_with("app;dur="), "{timing}");
    // [polls] latest_count, read by the index through Config<PollsSettings>.
    let page = index.text();
    assert!(page.contains("Past question 3<") && page.contains("Past question 2<"));
    assert!(!page.contains("Past question 1<"), "only two: {page}");

    // The shared VotesSinceStart, and the app's pluralize filter.
    let id = site.question("Pick one", -1, &["One", "Two"]).await;
    let pool = site.application.databases().get("default").await.unwrap();
    let one = mysite::polls::models::Choice::of(&pool, id).await.unwrap()[0].id;
    let first = site.vote(id, Some(one)).await;
    assert_eq!(first.status, 302);
    let results = site
        .client
        .get(&format!("/polls/{id}/results/"))
        .await
        .text();
    assert!(
        results.contains("1 vote since the server started"),
        "{results}"
    );
    assert!(results.contains("</span> vote</li>"), "one vote: {results}");
    assert!(
        results.contains("</span> votes</li>"),
        "zero votes: {results}"
    );
    site.vote(id, Some(one)).await;
    let results = site
        .client
        .get(&format!("/polls/{id}/results/"))
        .await
        .text();
    assert!(
        results.contains("2 votes since the server started"),
        "{results}"
    );
}

async fn detail_shows_the_form_with_a_csrf_field(backend: Backend) {
    let Some(site) = site(backend).await else {
        return;
    };
    let id = site
        .question("What's up?", -1, &["Not much", "The sky"])
        .await;
    let page = site.client.get(&format!("/polls/{id}/")).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("<h1>What&#39;s up?</h1>"), "{html}");
    assert!(html.contains("name=\"csrfmiddlewaretoken\""), "{html}");
    assert!(
        html.contains(&format!("action=\"/polls/{id}/vote/\"")),
        "{html}"
    );
    assert_eq!(html.matches("type=\"radio\"").count(), 2);
}

async fn missing_and_future_questions_are_404(backend: Backend) {
    let Some(site) = site(backend).await else {
        return;
    };
    let future = site.question("Later", 60, &["a"]).await;
    for path in [
        "/polls/999/".to_string(),
        format!("/polls/{future}/"),
        format!("/polls/{future}/results/"),
        "/polls/999/results/".to_string(),
    ] {
        assert_eq!(site.client.get(&path).await.status, 404, "{path}");
    }
}

async fn a_vote_counts_once_and_redirects_to_the_results(backend: Backend) {
    let Some(site) = site(backend).await else {
        return;
    };
    let id = site.question("Pick", -1, &["one", "two"]).await;
    let pool = site.application.databases().get("default").await.unwrap();
    let choices = mysite::polls::models::Choice::of(&pool, id).await.unwrap();
    let response = site.vote(id, Some(choices[1].id)).await;
    assert_eq!(response.status, 302, "{}", response.text());
    assert_eq!(
        response.header("location"),
        Some(format!("/polls/{id}/results/").as_str())
    );
    assert_eq!(site.votes(id).await, [0, 1]);
    let results = site.client.get(&format!("/polls/{id}/results/")).await;
    assert_eq!(results.status, 200);
    assert!(
        results
            .text()
            .contains("two</span> -- <span class=\"votes\""),
        "{}",
        results.text()
    );
    assert!(
        results.text().contains(">1</span> vote<"),
        "{}",
        results.text()
    );
    // The vote's message, shown by base.html once.
    let counted = "<li class=\"success\">Your vote was counted.</li>";
    assert!(results.text().contains(counted), "{}", results.text());
    let again = site.client.get(&format!("/polls/{id}/results/")).await;
    assert!(!again.text().contains(counted), "{}", again.text());
}

async fn voting_without_a_choice_shows_the_form_again_with_an_error(backend: Backend) {
    let Some(site) = site(backend).await else {
        return;
    };
    let id = site.question("Pick", -1, &["one"]).await;
    let other = site.question("Other", -1, &["x"]).await;
    let response = site.vote(id, None).await;
    assert_eq!(response.status, 200);
    assert!(
        response.text().contains("You didn&#39;t select a choice."),
        "{}",
        response.text()
    );
    // A choice of another question is no choice either.
    let pool = site.application.databases().get("default").await.unwrap();
    let foreign = mysite::polls::models::Choice::of(&pool, other)
        .await
        .unwrap()[0]
        .id;
    let response = site.vote(id, Some(foreign)).await;
    assert_eq!(response.status, 200);
    assert_eq!(site.votes(other).await, [0]);
    assert_eq!(site.votes(id).await, [0]);
}

async fn voting_needs_post_and_a_csrf_token(backend: Backend) {
    let Some(site) = site(backend).await else {
        return;
    };
    let id = site.question("Pick", -1, &["one"]).await;
    assert_eq!(
        site.client.get(&format!("/polls/{id}/vote/")).await.status,
        405
    );
    let fresh = Client::new(site.application.clone());
    let response = fresh
        .post_form(&format!("/polls/{id}/vote/"), &[("choice", "1")])
        .await;
    assert_eq!(response.status, 403);
    assert_eq!(site.votes(id).await, [0]);
}

async fn adding_a_question_needs_a_login_and_the_add_question_permission(backend: Backend) {
    let Some(site) = site(backend).await else {
        return;
    };
    let add_link = "<a href=\"/polls/add/\" class=\"add\">Add a question</a>";
    // Anonymous: to the login page, back here afterwards; no link.
    let anonymous = site.client.get("/polls/add/").await;
    assert_eq!(anonymous.status, 302);
    assert_eq!(
        anonymous.header("location"),
        Some("/accounts/login/?next=/polls/add/")
    );
    assert!(!site.client.get("/polls/").await.text().contains(add_link));

    // Logged in without polls.add_question, staff or not: 403, GET or POST.
    let plain = site.logged_in("jane", false, &[]).await;
    assert_eq!(plain.get("/polls/add/").await.status, 403);
    let token = plain
        .csrf_token()
        .expect("a CSRF cookie after the login page");
    let posted = plain
        .post_form(
            "/polls/add/",
            &[
                ("csrfmiddlewaretoken", token.as_str()),
                ("question_text", "Sneaked in?"),
                ("choice1", "Yes"),
                ("choice2", "No"),
            ],
        )
        .await;
    assert_eq!(posted.status, 403, "{}", posted.text());
    assert!(site.questions().await.is_empty());
    assert!(!plain.get("/polls/").await.text().contains(add_link));

    // The permission is what counts: given to a user who is not staff.
    let granted = site
        .logged_in("editor", false, &["polls.add_question"])
        .await;
    let page = granted.get("/polls/add/").await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(granted.get("/polls/").await.text().contains(add_link));

    // A superuser has every permission; the login's `next` leads back here.
    let admin = site.logged_in("admin", true, &[]).await;
    let page = admin.get("/polls/add/").await.text();
    assert!(page.contains("<h1>Add a question</h1>"), "{page}");
    assert!(page.contains("name=\"csrfmiddlewaretoken\""), "{page}");
    for field in ["question_text", "choice1", "choice5"] {
        assert!(page.contains(&format!("name=\"{field}\"")), "{page}");
    }
    assert!(admin.get("/polls/").await.text().contains(add_link));
    let fresh = Client::new(site.application.clone());
    let login = [
        ("username", "admin"),
        ("password", PASSWORD),
        ("next", "/polls/add/"),
    ];
    let back = submit(
        &fresh,
        "/accounts/login/?next=/polls/add/",
        "/accounts/login/",
        &login,
    )
    .await;
    assert_eq!(back.header("location"), Some("/polls/add/"));
}

async fn an_invalid_question_is_shown_again_with_its_errors_and_nothing_is_added(backend: Backend) {
    let Some(site) = site(backend).await else {
        return;
    };
    let admin = site.logged_in("admin", true, &[]).await;
    let add = |fields| submit(&admin, "/polls/add/", "/polls/add/", fields);

    // No question: the field's error next to it, the choices typed kept.
    let response = add(&[
        ("question_text", "  "),
        ("choice1", "Tea"),
        ("choice2", "<b>Coffee</b>"),
    ])
    .await;
    assert_eq!(response.status, 200);
    let page = response.text();
    assert!(
        page.contains("<ul class=\"errorlist\"><li>This field is required.</li></ul><p><label for=\"id_question_text\">Question:</label>"),
        "{page}"
    );
    assert!(
        page.contains("name=\"choice1\" id=\"id_choice1\" maxlength=\"200\" value=\"Tea\""),
        "{page}"
    );
    assert!(
        page.contains("value=\"&lt;b&gt;Coffee&lt;/b&gt;\""),
        "escaped: {page}"
    );

    // One choice only: the error of the whole form, the question kept.
    let response = add(&[("question_text", "Tea or coffee?"), ("choice3", "Tea")]).await;
    assert_eq!(response.status, 200);
    let page = response.text();
    assert!(
        page.contains("<ul class=\"errorlist nonfield\"><li>Give at least 2 choices.</li></ul>"),
        "{page}"
    );
    assert!(page.contains("value=\"Tea or coffee?\""), "{page}");
    assert!(
        page.contains("name=\"choice3\" id=\"id_choice3\" maxlength=\"200\" value=\"Tea\""),
        "{page}"
    );

    // Longer than the column: the length error.
    let long = "x".repeat(201);
    let fields = [
        ("question_text", long.as_str()),
        ("choice1", "a"),
        ("choice2", "b"),
    ];
    let page = add(&fields).await.text();
    assert!(
        page.contains("<li>Ensure this value has at most 200 characters (it has 201).</li>"),
        "{page}"
    );
    // And one choice only: the whole-form step runs once every field is
    // valid (unlike Django's clean()), so only the length error shows; the
    // missing choice is said once the question is fixed.
    let page = add(&fields[..2]).await.text();
    assert!(
        page.contains("<li>Ensure this value has at most 200 characters (it has 201).</li>"),
        "{page}"
    );
    assert!(!page.contains("Give at least 2 choices."), "{page}");
    assert!(site.questions().await.is_empty());
}

/// A NUL character typed into a form (PostgreSQL refuses one in text): a
/// form error as Django's "Null characters are not allowed." (in the login
/// form too, as Django's `AuthenticationForm`), and a password reset that
/// finds no one, never a 500.
async fn nul_characters_are_form_errors_never_database_errors(backend: Backend) {
    let Some(site) = site(backend).await else {
        return;
    };
    let admin = site.logged_in("admin", true, &[]).await;
    let response = submit(
        &admin,
        "/polls/add/",
        "/polls/add/",
        &[
            ("question_text", "Tea\0?"),
            ("choice1", "a"),
            ("choice2", "b"),
        ],
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        response
            .text()
            .contains("<li>Null characters are not allowed.</li>"),
        "{}",
        response.text()
    );
    assert!(site.questions().await.is_empty());

    let visitor = Client::new(site.application.clone());
    let login = [("username", "ad\0min"), ("password", PASSWORD)];
    let response = submit(&visitor, "/accounts/login/", "/accounts/login/", &login).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        response.text().contains(
            "<ul class=\"errorlist\" id=\"id_username_error\"><li>Null characters are not allowed.</li></ul>"
        ),
        "{}",
        response.text()
    );
    assert!(!response.text().contains(nuages::auth::views::INVALID_LOGIN));

    let reset = [("email", "admin\0@example.com")];
    let response = submit(
        &visitor,
        "/accounts/password_reset/",
        "/accounts/password_reset/",
        &reset,
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        response.text().contains("Enter a valid email address."),
        "{}",
        response.text()
    );
}

async fn a_valid_question_is_added_with_its_choices_and_a_message_shown_once(backend: Backend) {
    let Some(site) = site(backend).await else {
        return;
    };
    let admin = site.logged_in("admin", true, &[]).await;
    let fields = [
        ("question_text", " Tea or coffee? "),
        ("choice1", "Tea"),
        ("choice2", ""),
        ("choice3", "Coffee"),
        ("choice4", "   "),
        ("choice5", "Neither"),
    ];
    let response = submit(&admin, "/polls/add/", "/polls/add/", &fields).await;
    assert_eq!(response.status, 302, "{}", response.text());
    let questions = site.questions().await;
    assert_eq!(
        questions,
        [(
            "Tea or coffee?".to_string(),
            vec![
                "Tea".to_string(),
                "Coffee".to_string(),
                "Neither".to_string()
            ]
        )]
    );
    let pool = site.pool().await;
    let id = Question::latest(&pool, 1).await.unwrap()[0].id;
    assert_eq!(
        response.header("location"),
        Some(format!("/polls/{id}/").as_str())
    );
    // Published now: the question's page, with the message once.
    let message = "<li class=\"success\">Question “Tea or coffee?” was added.</li>";
    let detail = admin.get(&format!("/polls/{id}/")).await;
    assert_eq!(detail.status, 200);
    assert_eq!(
        detail.text().matches(message).count(),
        1,
        "{}",
        detail.text()
    );
    assert_eq!(detail.text().matches("type=\"radio\"").count(), 3);
    let again = admin.get(&format!("/polls/{id}/")).await;
    assert!(!again.text().contains(message), "{}", again.text());
    assert!(
        site.client
            .get("/polls/")
            .await
            .text()
            .contains("Tea or coffee?<")
    );
}

fn the_seed_command_adds_samples_only_once(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let settings_file = dir.path().join("settings.toml");
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("settings.toml");
    let Some(settings) = test_settings(&base, backend, "seed.sqlite3") else {
        return;
    };
    std::fs::write(&settings_file, settings).unwrap();
    let run = |command: &str| {
        nuages::management::ManagementUtility::new(mysite::wsgi::project()).execute_from([
            "mysite",
            command,
            "--settings",
            settings_file.to_str().unwrap(),
        ])
    };
    assert_eq!(run("migrate"), std::process::ExitCode::SUCCESS);
    let count = || {
        let settings = mysite::wsgi::project()
            .load_settings(&settings_file)
            .unwrap();
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let databases = nuages::db::Databases::new(&settings);
            let pool = databases.get("default").await.unwrap();
            Question::count(&pool).await.unwrap()
        })
    };
    assert_eq!(run("seed"), std::process::ExitCode::SUCCESS);
    assert_eq!(count(), 3);
    assert_eq!(run("seed"), std::process::ExitCode::SUCCESS);
    assert_eq!(count(), 3);
}
