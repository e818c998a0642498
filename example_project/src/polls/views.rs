//! The views of the polls app, as in Django's tutorial.

use std::sync::atomic::{AtomicU64, Ordering};

use nuages::auth::{PermissionRequired, RequiredPermission};
use nuages::forms::{Clean, Form, FormData, FormErrors, ModelChoice};
use nuages::prelude::*;
use nuages::timezone;

use super::PollsSettings;
use super::models::{Choice, Question};

/// Votes counted since the server started, shared by every request
/// (registered with `Project::state` in src/wsgi.rs).
#[derive(Debug, Default)]
pub struct VotesSinceStart(AtomicU64);

impl VotesSinceStart {
    fn count(&self) -> i64 {
        self.0.load(Ordering::Relaxed) as i64
    }

    fn add_one(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// `/polls/`: the latest published questions (`[polls] latest_count`).
pub async fn index(
    templates: Templates,
    Db(pool): Db,
    settings: Config<PollsSettings>,
) -> Result<Html<String>> {
    let latest = Question::latest(&pool, settings.latest_count).await?;
    templates.render(
        "polls/index.html",
        context! { "latest_question_list" => &latest },
    )
}

/// A published question, or 404.
async fn question_or_404(pool: &nuages::sqlx::AnyPool, id: i64) -> Result<Question> {
    Question::published(pool, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no published question {id}")))
}

/// `/polls/<id>/`: the vote form.
pub async fn detail(
    Path(question_id): Path<i64>,
    templates: Templates,
    Db(pool): Db,
) -> Result<Html<String>> {
    let question = question_or_404(&pool, question_id).await?;
    let choices = Choice::of(&pool, question.id).await?;
    templates.render(
        "polls/detail.html",
        context! { "question" => &question, "choices" => &choices },
    )
}

/// The cache key of a question's counts, kept by `results` and dropped by
/// `vote`: with a shared cache (Redis), a vote through one `serve` is seen
/// by the results page of every other.
fn counts_key(question_id: i64) -> String {
    format!("polls:counts:{question_id}")
}

/// `/polls/<id>/results/`: the counts, from the cache when it has them.
pub async fn results(
    Path(question_id): Path<i64>,
    templates: Templates,
    Db(pool): Db,
    cache: Cache,
    since_start: Data<VotesSinceStart>,
) -> Result<Html<String>> {
    let question = question_or_404(&pool, question_id).await?;
    let key = counts_key(question.id);
    let choices = match cache.get::<Vec<Choice>>(&key).await {
        Some(choices) => choices,
        None => {
            let choices = Choice::of(&pool, question.id).await?;
            cache.set(&key, &choices).await;
            choices
        }
    };
    templates.render(
        "polls/results.html",
        context! {
            "question" => &question,
            "choices" => &choices,
            "votes_since_start" => &since_start.count(),
        },
    )
}

/// The vote form: one choice among those of the question (`$1`), checked
/// against the database when the form is bound.
#[derive(Debug, Form)]
pub struct VoteForm {
    /// The choice voted for.
    #[form(query = "SELECT id, choice_text FROM polls_choice WHERE question_id = $1 ORDER BY id")]
    pub choice: ModelChoice,
}

/// `/polls/<id>/vote/` (POST): count the vote and redirect to the results,
/// or show the form again when no valid choice was picked.
// A view takes one argument per extractor it needs.
#[allow(clippy::too_many_arguments)]
pub async fn vote(
    Path(question_id): Path<i64>,
    urls: Urls,
    templates: Templates,
    Db(pool): Db,
    cache: Cache,
    since_start: Data<VotesSinceStart>,
    messages: Messages,
    data: FormData,
) -> Result<Response> {
    let question = question_or_404(&pool, question_id).await?;
    let voted = VoteForm::binder()
        .db(&pool)
        .arg(question.id)
        .bind(&data)
        .await?;
    let counted = match voted {
        // A choice deleted since the form was bound is not counted either.
        Ok(form) => Choice::vote(&pool, question.id, form.choice.id).await?,
        Err(_) => false,
    };
    if !counted {
        let choices = Choice::of(&pool, question.id).await?;
        let page = templates.render(
            "polls/detail.html",
            context! {
                "question" => &question,
                "choices" => &choices,
                "error_message" => "You didn't select a choice.",
            },
        )?;
        return Ok(page.into_response());
    }
    cache.delete(&counts_key(question.id)).await;
    since_start.add_one();
    messages.success("Your vote was counted.");
    let results = urls.reverse_args("polls:results", &[&question.id])?;
    Ok(redirect(&results))
}

/// The permission `polls/add/` requires: `polls.add_question`, declared by
/// the app (src/polls/mod.rs) and inserted by `migrate`. A permission rather
/// than `is_staff` so that the right can be given to a user or a group
/// without making them staff, as Django's admin does; superusers have it.
pub struct CanAddQuestion;

impl RequiredPermission for CanAddQuestion {
    const PERMISSION: &'static str = "polls.add_question";
}

/// The fewest choices a new question may have.
const MIN_CHOICES: usize = 2;

/// A new question and up to five choices; the empty ones are left out.
#[derive(Debug, Form)]
#[form(clean)]
pub struct QuestionForm {
    /// The question (`polls_question.question_text`, 200 characters).
    #[form(label = "Question", max_length = 200)]
    pub question_text: String,
    /// The first choice (`polls_choice.choice_text`, 200 characters).
    #[form(label = "Choice 1", max_length = 200)]
    pub choice1: Option<String>,
    /// The second choice.
    #[form(label = "Choice 2", max_length = 200)]
    pub choice2: Option<String>,
    /// The third choice.
    #[form(label = "Choice 3", max_length = 200)]
    pub choice3: Option<String>,
    /// The fourth choice.
    #[form(label = "Choice 4", max_length = 200)]
    pub choice4: Option<String>,
    /// The fifth choice.
    #[form(label = "Choice 5", max_length = 200)]
    pub choice5: Option<String>,
}

impl QuestionForm {
    /// The choices filled in, in order.
    pub fn choices(&self) -> Vec<&str> {
        [
            &self.choice1,
            &self.choice2,
            &self.choice3,
            &self.choice4,
            &self.choice5,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect()
    }
}

impl Clean for QuestionForm {
    fn clean(&self) -> std::result::Result<(), FormErrors> {
        if self.choices().len() < MIN_CHOICES {
            return Err(FormErrors::form(format!(
                "Give at least {MIN_CHOICES} choices."
            )));
        }
        Ok(())
    }
}

/// `/polls/add/` (GET): the empty form to add a question.
pub async fn add_form(
    _: PermissionRequired<CanAddQuestion>,
    templates: Templates,
) -> Result<Html<String>> {
    let form = QuestionForm::binder().unbound().await?;
    templates.render("polls/add.html", context! { "form" => &form })
}

/// `/polls/add/` (POST): add the question, published now, with its choices
/// in one transaction, then go to its page with a message; or show the form
/// again with the errors next to the fields and what was typed.
pub async fn add_submit(
    _: PermissionRequired<CanAddQuestion>,
    templates: Templates,
    Db(pool): Db,
    urls: Urls,
    messages: Messages,
    data: FormData,
) -> Result<Response> {
    let question = match QuestionForm::binder().bind(&data).await? {
        Ok(question) => question,
        Err(form) => {
            let page = templates.render("polls/add.html", context! { "form" => &form })?;
            return Ok(page.into_response());
        }
    };
    let now = timezone::to_db(timezone::now());
    let id = Question::create(&pool, &question.question_text, &now, &question.choices()).await?;
    messages.success(format!("Question “{}” was added.", question.question_text));
    Ok(redirect(&urls.reverse_args("polls:detail", &[&id])?))
}
