//! The data of the polls app: questions and their choices, and the queries
//! the views need. Portable SQL with `$n` placeholders (SQLite and
//! PostgreSQL alike); timestamps are UTC text (see `nuages::timezone`).

use nuages::serde::{Deserialize, Serialize};
use nuages::sqlx::{self, AnyPool, FromRow};
use nuages::timezone;

/// A poll question.
#[derive(Debug, Clone, Serialize, FromRow)]
#[serde(crate = "nuages::serde")]
pub struct Question {
    /// Its id.
    pub id: i64,
    /// The question.
    pub question_text: String,
    /// When it is published (UTC, `YYYY-MM-DD HH:MM:SS`).
    pub pub_date: String,
}

/// One answer to a question, with its vote count.
#[derive(Debug, Clone, Serialize, Deserialize, FromRow)]
#[serde(crate = "nuages::serde")]
pub struct Choice {
    /// Its id.
    pub id: i64,
    /// The question it answers.
    pub question_id: i64,
    /// The answer.
    pub choice_text: String,
    /// How many votes it has.
    pub votes: i64,
}

impl Question {
    /// The `count` latest published questions, never future ones.
    pub async fn latest(pool: &AnyPool, count: i64) -> Result<Vec<Question>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, question_text, pub_date FROM polls_question \
             WHERE pub_date <= $1 ORDER BY pub_date DESC, id DESC LIMIT $2",
        )
        .bind(timezone::to_db(timezone::now()))
        .bind(count)
        .fetch_all(pool)
        .await
    }

    /// A published question by id (none for a future one).
    pub async fn published(pool: &AnyPool, id: i64) -> Result<Option<Question>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, question_text, pub_date FROM polls_question WHERE id = $1 AND pub_date <= $2",
        )
        .bind(id)
        .bind(timezone::to_db(timezone::now()))
        .fetch_optional(pool)
        .await
    }

    /// Add a question with its choices; returns its id.
    pub async fn create(
        pool: &AnyPool,
        text: &str,
        pub_date: &str,
        choices: &[&str],
    ) -> Result<i64, sqlx::Error> {
        let mut transaction = pool.begin().await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO polls_question (question_text, pub_date) VALUES ($1, $2) RETURNING id",
        )
        .bind(text)
        .bind(pub_date)
        .fetch_one(&mut *transaction)
        .await?;
        for choice in choices {
            sqlx::query(
                "INSERT INTO polls_choice (question_id, choice_text, votes) VALUES ($1, $2, 0)",
            )
            .bind(id)
            .bind(*choice)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(id)
    }

    /// How many questions there are.
    pub async fn count(pool: &AnyPool) -> Result<i64, sqlx::Error> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM polls_question")
            .fetch_one(pool)
            .await?;
        Ok(count)
    }
}

impl Choice {
    /// The choices of a question, in order.
    pub async fn of(pool: &AnyPool, question_id: i64) -> Result<Vec<Choice>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, question_id, choice_text, votes FROM polls_choice WHERE question_id = $1 ORDER BY id",
        )
        .bind(question_id)
        .fetch_all(pool)
        .await
    }

    /// Count one vote, atomically in the database; false when the choice
    /// does not belong to the question.
    pub async fn vote(
        pool: &AnyPool,
        question_id: i64,
        choice_id: i64,
    ) -> Result<bool, sqlx::Error> {
        let result = sqlx::query(
            "UPDATE polls_choice SET votes = votes + 1 WHERE id = $1 AND question_id = $2",
        )
        .bind(choice_id)
        .bind(question_id)
        .execute(pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }
}
