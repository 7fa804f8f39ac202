//! Call history in SQLite.
//!
//! [`History`] is one connection to the history database: the engine's [`HistoryWriter`] owns
//! one on a background thread, and whoever answers queries opens a second one on the same file
//! (the database runs in WAL mode, so readers never wait for the writer).
//!
//! Durability: every write is a committed transaction in WAL mode with `synchronous=NORMAL`,
//! which survives the process being killed (`kill -9`, abort, panic) at any point. Only a power
//! loss or OS crash can lose the last few transactions, never corrupt the file.
//!
//! Timestamps are stored as RFC 3339 text in UTC with nine fraction digits, so they read well in
//! the `sqlite3` shell, round-trip exactly and sort as text.

use chrono::{DateTime, SecondsFormat, Utc};
use console_core::{Call, CallId, CallState, Direction, EndReason};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 2;

/// Why the call history could not be opened, read or written.
///
/// Each message is complete on its own (it names the file and includes the underlying error),
/// so the underlying error is deliberately not also exposed as `source()`: printing a chain with
/// `{:#}` would repeat it.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The directory for the database could not be created.
    #[error("cannot create the directory {}: {error}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        error: std::io::Error,
    },
    /// The database file could not be opened or set up.
    #[error("cannot open the call history {}: {error}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        error: rusqlite::Error,
    },
    /// The file exists but is not an SQLite database (or is damaged beyond reading).
    #[error(
        "{} is not a readable call history database (not SQLite, or corrupt); move it away to start a new history",
        path.display()
    )]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The database was written by a newer Switchboard with a schema this build does not know.
    #[error(
        "the call history {} has schema version {found}, but this build only knows up to {supported}; use a newer Switchboard",
        path.display()
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// [`SCHEMA_VERSION`].
        supported: i64,
    },
    /// A query or write failed.
    #[error("call history: {0}")]
    Sqlite(rusqlite::Error),
    /// A stored row holds a value this build cannot read back (hand-edited or damaged database).
    #[error("call history: call {id}: column {column} holds an invalid value: {reason}")]
    BadRow {
        /// The call's id.
        id: String,
        /// The column.
        column: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl From<rusqlite::Error> for StorageError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sqlite(error)
    }
}

/// One connection to the call history database.
#[derive(Debug)]
pub struct History {
    conn: Connection,
    path: PathBuf,
}

impl History {
    /// Opens (creating if needed) the history at `path`, with its parent directories, and brings
    /// the schema up to [`SCHEMA_VERSION`]. Opening the same file twice is fine: use one
    /// connection for the writer and another for queries.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| StorageError::CreateDir {
                path: dir.to_path_buf(),
                error,
            })?;
        }
        let open_err = |error: rusqlite::Error| classify_open_error(path, error);
        let mut conn = Connection::open(path).map_err(open_err)?;
        // A second connection may be migrating or writing at this moment; wait for it.
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(open_err)?;
        // The first real read of the file: garbage is detected here.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "call history is not in WAL mode");
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        migrate(&mut conn, path)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Inserts the call, or updates every field of the stored call with the same id.
    pub fn upsert(&mut self, call: &Call) -> Result<(), StorageError> {
        upsert_in(&self.conn, call)
    }

    /// [`History::upsert`] for many calls in one transaction (all or none). Later entries for
    /// the same id win.
    pub fn upsert_many(&mut self, calls: &[Call]) -> Result<(), StorageError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for call in calls {
            upsert_in(&tx, call)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Up to `limit` ended calls, newest first (by `started_at`).
    pub fn recent(&self, limit: u32) -> Result<Vec<Call>, StorageError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM calls WHERE state = 'ended' \
             ORDER BY started_at DESC, id DESC LIMIT ?1"
        ))?;
        let mut rows = stmt.query(params![limit])?;
        let mut calls = Vec::new();
        while let Some(row) = rows.next()? {
            calls.push(call_from_row(row)?);
        }
        Ok(calls)
    }

    /// The stored call with this id, in whatever state it was last written.
    pub fn get(&self, id: &CallId) -> Result<Option<Call>, StorageError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM calls WHERE id = ?1"))?;
        let row = stmt
            .query_row(params![id.0], |row| Ok(call_from_row(row)))
            .optional()?;
        row.transpose()
    }

    /// Ends every call that is not ended yet, with reason `interrupted` at `at`. Run at start-up:
    /// such calls were up when the previous process died. Returns how many calls it changed.
    pub fn mark_interrupted(&mut self, at: DateTime<Utc>) -> Result<usize, StorageError> {
        let changed = self.conn.execute(
            "UPDATE calls SET state = 'ended', end_reason = ?1, ended_at = ?2 \
             WHERE state != 'ended'",
            params![EndReason::Interrupted.as_str(), timestamp(at)],
        )?;
        Ok(changed)
    }
}

/// Writes the history on a background thread so the engine never blocks on the disk.
///
/// [`HistoryWriter::record`] only queues; the thread writes whatever has queued up since its
/// last write in one transaction. Write failures are logged (the engine carries on without
/// history rather than stopping calls).
#[derive(Debug)]
pub struct HistoryWriter {
    queue: Option<mpsc::Sender<WriterMsg>>,
    thread: Option<JoinHandle<()>>,
}

impl HistoryWriter {
    /// Starts the writer thread, which owns `history` until [`HistoryWriter::shutdown`].
    pub fn spawn(history: History) -> Self {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || writer_loop(history, rx));
        match thread {
            Ok(thread) => Self {
                queue: Some(tx),
                thread: Some(thread),
            },
            Err(e) => {
                tracing::error!(error = %e, "cannot start the call history writer; history is off");
                Self {
                    queue: None,
                    thread: None,
                }
            }
        }
    }

    /// Queues the call's current state for writing. Never blocks.
    pub fn record(&self, call: Call) {
        self.send(WriterMsg::Record(Box::new(call)));
    }

    /// Blocks until everything queued before this call is on disk (or failed and was logged).
    /// Do not call it from an async task without `spawn_blocking`.
    pub fn flush(&self) {
        let (ack, done) = mpsc::sync_channel(1);
        if self.send(WriterMsg::Flush(ack)) {
            // Err means the thread is gone; there is nothing left to wait for.
            let _ = done.recv();
        }
    }

    /// Writes everything queued, then stops the thread. Blocks like [`HistoryWriter::flush`].
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn send(&self, msg: WriterMsg) -> bool {
        match &self.queue {
            Some(queue) if queue.send(msg).is_ok() => true,
            _ => {
                tracing::warn!("the call history writer has stopped; a call was not recorded");
                false
            }
        }
    }

    fn stop(&mut self) {
        // Closing the queue makes the thread drain it and return.
        self.queue = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the call history writer thread panicked");
        }
    }
}

impl Drop for HistoryWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

enum WriterMsg {
    Record(Box<Call>),
    Flush(mpsc::SyncSender<()>),
}

fn writer_loop(mut history: History, queue: mpsc::Receiver<WriterMsg>) {
    let mut batch = Vec::new();
    let mut acks = Vec::new();
    // Block for the first message, then take whatever else is already queued.
    while let Ok(first) = queue.recv() {
        for msg in std::iter::once(first).chain(queue.try_iter()) {
            match msg {
                WriterMsg::Record(call) => batch.push(*call),
                WriterMsg::Flush(ack) => acks.push(ack),
            }
        }
        if !batch.is_empty() {
            if let Err(e) = history.upsert_many(&batch) {
                tracing::error!(
                    error = %e,
                    calls = batch.len(),
                    path = %history.path().display(),
                    "writing the call history failed"
                );
            }
            batch.clear();
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
    }
}

const COLUMNS: &str = "id, direction, state, remote_uri, remote_display, local_uri, started_at, \
     answered_at, ended_at, end_reason, sip_status, sip_call_id, transfer, bridged_with";

/// Version 1: one row per call.
const SCHEMA_V1: &str = "
CREATE TABLE calls (
    id             TEXT PRIMARY KEY NOT NULL,
    direction      TEXT NOT NULL,
    state          TEXT NOT NULL,
    remote_uri     TEXT NOT NULL,
    remote_display TEXT,
    local_uri      TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    answered_at    TEXT,
    ended_at       TEXT,
    end_reason     TEXT,
    sip_status     INTEGER,
    sip_call_id    TEXT NOT NULL,
    transfer       TEXT
);
CREATE INDEX calls_by_state_started ON calls (state, started_at);
";

/// Version 2: the other leg of an anchored bridge.
const SCHEMA_V2: &str = "ALTER TABLE calls ADD COLUMN bridged_with TEXT;";

/// Brings the schema from whatever version the file has to [`SCHEMA_VERSION`], inside one
/// immediate transaction so two connections opening a new file at once cannot both migrate.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StorageError> {
    let open_err = |error: rusqlite::Error| classify_open_error(path, error);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(open_err)?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(open_err)?;
    if version > SCHEMA_VERSION {
        return Err(StorageError::TooNew {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version < 1 {
        tx.execute_batch(SCHEMA_V1).map_err(open_err)?;
    }
    if version < 2 {
        tx.execute_batch(SCHEMA_V2).map_err(open_err)?;
    }
    // Later versions: `if version < 3 { ... }` here, each step one ALTER/CREATE batch.
    if version != SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(open_err)?;
    }
    tx.commit().map_err(open_err)
}

fn classify_open_error(path: &Path, error: rusqlite::Error) -> StorageError {
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StorageError::NotADatabase {
            path: path.to_path_buf(),
        },
        _ => StorageError::Open {
            path: path.to_path_buf(),
            error,
        },
    }
}

fn upsert_in(conn: &Connection, call: &Call) -> Result<(), StorageError> {
    let transfer = call
        .transfer
        .as_ref()
        .map(|t| serde_json::to_string(t).unwrap_or_default());
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO calls ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (id) DO UPDATE SET
            direction = excluded.direction,
            state = excluded.state,
            remote_uri = excluded.remote_uri,
            remote_display = excluded.remote_display,
            local_uri = excluded.local_uri,
            started_at = excluded.started_at,
            answered_at = excluded.answered_at,
            ended_at = excluded.ended_at,
            end_reason = excluded.end_reason,
            sip_status = excluded.sip_status,
            sip_call_id = excluded.sip_call_id,
            transfer = excluded.transfer,
            bridged_with = excluded.bridged_with"
    ))?;
    stmt.execute(params![
        call.id.0,
        enum_str(&call.direction),
        enum_str(&call.state),
        call.remote_uri,
        call.remote_display,
        call.local_uri,
        timestamp(call.started_at),
        call.answered_at.map(timestamp),
        call.ended_at.map(timestamp),
        call.end_reason.map(EndReason::as_str),
        call.sip_status,
        call.sip_call_id,
        transfer,
        call.bridged_with.as_ref().map(|c| c.0.as_str()),
    ])?;
    Ok(())
}

fn call_from_row(row: &Row<'_>) -> Result<Call, StorageError> {
    let id: String = row.get("id")?;
    let bad = |column: &'static str, reason: String| StorageError::BadRow {
        id: id.clone(),
        column,
        reason,
    };
    let direction: Direction =
        parse_enum(&row.get::<_, String>("direction")?).map_err(|r| bad("direction", r))?;
    let state: CallState =
        parse_enum(&row.get::<_, String>("state")?).map_err(|r| bad("state", r))?;
    let time = |column: &'static str| -> Result<Option<DateTime<Utc>>, StorageError> {
        row.get::<_, Option<String>>(column)?
            .map(|s| parse_timestamp(&s).map_err(|r| bad(column, r)))
            .transpose()
    };
    let started_at = time("started_at")?.ok_or_else(|| bad("started_at", "missing".into()))?;
    let end_reason = row
        .get::<_, Option<String>>("end_reason")?
        .map(|s| EndReason::parse(&s).ok_or_else(|| bad("end_reason", format!("{s:?}"))))
        .transpose()?;
    let sip_status = row
        .get::<_, Option<i64>>("sip_status")?
        .map(|n| u16::try_from(n).map_err(|_| bad("sip_status", n.to_string())))
        .transpose()?;
    let transfer = row
        .get::<_, Option<String>>("transfer")?
        .map(|s| serde_json::from_str(&s).map_err(|e| bad("transfer", e.to_string())))
        .transpose()?;
    Ok(Call {
        direction,
        state,
        remote_uri: row.get("remote_uri")?,
        remote_display: row.get("remote_display")?,
        local_uri: row.get("local_uri")?,
        started_at,
        answered_at: time("answered_at")?,
        ended_at: time("ended_at")?,
        end_reason,
        sip_status,
        sip_call_id: row.get("sip_call_id")?,
        transfer,
        // Live media state is not history.
        muted: false,
        held_by: None,
        codec: None,
        quality: None,
        bridged_with: row.get::<_, Option<String>>("bridged_with")?.map(CallId),
        listening: false,
        id: CallId(id),
    })
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?}: {e}"))
}

/// The serde name of a unit enum variant (`"inbound"`, `"ringing"`), so storage and the API
/// spell states the same way.
fn enum_str<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        // Only used with unit-variant enums, which always serialise to a string.
        other => format!("{other:?}"),
    }
}

fn parse_enum<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 123_456_789)
            .unwrap()
    }

    fn call(id: &str, started: i64, state: CallState) -> Call {
        Call {
            id: CallId(id.into()),
            direction: Direction::Outbound,
            state,
            remote_uri: "sip:bob@example.com".into(),
            remote_display: None,
            local_uri: "sip:alice@example.com".into(),
            started_at: at(started),
            answered_at: None,
            ended_at: (state == CallState::Ended).then(|| at(started + 10)),
            end_reason: (state == CallState::Ended).then_some(EndReason::LocalHangup),
            sip_status: None,
            sip_call_id: format!("{id}@host"),
            transfer: None,
            muted: false,
            held_by: None,
            codec: None,
            quality: None,
            bridged_with: None,
            listening: false,
        }
    }

    fn full_call() -> Call {
        Call {
            id: CallId("c-full".into()),
            direction: Direction::Inbound,
            state: CallState::Ended,
            remote_uri: "sip:+15105550100@pbx.example.com;user=phone".into(),
            remote_display: Some("Zoë \"Z\" O'Brien".into()),
            local_uri: "sip:operator@example.com".into(),
            started_at: at(0),
            answered_at: Some(at(3)),
            ended_at: Some(at(60)),
            end_reason: Some(EndReason::Transferred),
            sip_status: Some(486),
            sip_call_id: "a84b4c76e66710@pc33.example.com".into(),
            transfer: Some(console_core::Transfer {
                id: console_core::TransferId("t-1".into()),
                mode: console_core::TransferMode::Cold,
                transfer_to: "sip:sales@x".into(),
                state: console_core::TransferState::Failed,
                sip_status: Some(405),
                reason: Some("the far end does not support transfers (405)".into()),
                play_dialtone: true,
                fallback_to_anchored: false,
                target_call_id: None,
                started_at: at(1),
                ended_at: Some(at(2)),
            }),
            muted: false,
            held_by: None,
            codec: None,
            quality: None,
            bridged_with: Some(CallId("c-target".into())),
            listening: false,
        }
    }

    fn temp_db() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/history.sqlite3");
        (dir, path)
    }

    #[test]
    fn a_call_with_every_field_round_trips() {
        let (_dir, path) = temp_db();
        let mut history = History::open(&path).unwrap();
        let mut call = full_call();
        history.upsert(&call).unwrap();
        assert_eq!(history.get(&call.id).unwrap(), Some(call.clone()));

        // Update in place, including fields going back to NULL.
        call.remote_display = None;
        call.transfer = None;
        call.sip_status = None;
        call.bridged_with = None;
        call.state = CallState::Held;
        history.upsert(&call).unwrap();
        assert_eq!(history.get(&call.id).unwrap(), Some(call.clone()));

        // A second connection (the reader) sees it too.
        let reader = History::open(&path).unwrap();
        assert_eq!(reader.get(&call.id).unwrap(), Some(call));
        assert_eq!(reader.get(&CallId("nope".into())).unwrap(), None);
    }

    #[test]
    fn recent_lists_only_ended_calls_newest_first() {
        let (_dir, path) = temp_db();
        let mut history = History::open(&path).unwrap();
        history
            .upsert_many(&[
                call("a", 10, CallState::Ended),
                call("b", 30, CallState::Ended),
                call("live", 40, CallState::Active),
                call("c", 20, CallState::Ended),
                call("ringing", 50, CallState::Ringing),
            ])
            .unwrap();
        let ids = |calls: Vec<Call>| calls.into_iter().map(|c| c.id.0).collect::<Vec<_>>();
        assert_eq!(ids(history.recent(10).unwrap()), ["b", "c", "a"]);
        assert_eq!(ids(history.recent(2).unwrap()), ["b", "c"]);
        assert!(history.recent(0).unwrap().is_empty());
    }

    #[test]
    fn mark_interrupted_ends_every_live_call() {
        let (_dir, path) = temp_db();
        let mut history = History::open(&path).unwrap();
        let done = call("done", 0, CallState::Ended);
        history
            .upsert_many(&[
                done.clone(),
                call("up", 1, CallState::Active),
                call("ring", 2, CallState::Ringing),
            ])
            .unwrap();
        let crash = at(100);
        assert_eq!(history.mark_interrupted(crash).unwrap(), 2);
        for id in ["up", "ring"] {
            let c = history.get(&CallId(id.into())).unwrap().unwrap();
            assert_eq!(c.state, CallState::Ended);
            assert_eq!(c.end_reason, Some(EndReason::Interrupted));
            assert_eq!(c.ended_at, Some(crash));
        }
        assert_eq!(history.get(&done.id).unwrap(), Some(done));
        assert_eq!(history.mark_interrupted(crash).unwrap(), 0);
        assert_eq!(history.recent(10).unwrap().len(), 3);
    }

    #[test]
    fn the_writer_batches_and_flush_waits_for_the_disk() {
        let (_dir, path) = temp_db();
        let writer = HistoryWriter::spawn(History::open(&path).unwrap());
        let reader = History::open(&path).unwrap();
        for i in 0..200 {
            let mut c = call(&format!("w{i:03}"), i, CallState::Active);
            writer.record(c.clone());
            c.state = CallState::Ended;
            c.ended_at = Some(at(i + 5));
            c.end_reason = Some(EndReason::RemoteHangup);
            writer.record(c);
        }
        writer.flush();
        let recent = reader.recent(1000).unwrap();
        assert_eq!(recent.len(), 200);
        assert_eq!(recent[0].id.0, "w199");
        writer.record(call("last", 1000, CallState::Ended));
        writer.shutdown();
        assert_eq!(reader.recent(1).unwrap()[0].id.0, "last");
    }

    const CRASH_CHILD_ENV: &str = "SWITCHBOARD_STORAGE_CRASH_CHILD_DB";

    /// Not a test on its own: the body of the child process that [`a_killed_writer_loses_nothing_committed`]
    /// starts. Without the environment variable it does nothing.
    #[test]
    fn crash_child() {
        let Some(path) = std::env::var_os(CRASH_CHILD_ENV) else {
            return;
        };
        let path = PathBuf::from(path);
        let mut history = History::open(&path).unwrap();
        history
            .upsert(&call("direct", 1, CallState::Active))
            .unwrap();
        let writer = HistoryWriter::spawn(History::open(&path).unwrap());
        writer.record(call("queued", 2, CallState::Ended));
        writer.flush();
        // Die without closing anything: no destructors, no checkpoint, WAL left behind.
        std::process::abort();
    }

    #[test]
    fn a_killed_writer_loses_nothing_committed() {
        let (_dir, path) = temp_db();
        let exe = std::env::current_exe().unwrap();
        let status = std::process::Command::new(exe)
            .args([
                "--exact",
                "storage::tests::crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_CHILD_ENV, &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(!status.success(), "the child should have aborted");

        let mut history = History::open(&path).unwrap();
        let direct = history.get(&CallId("direct".into())).unwrap().unwrap();
        assert_eq!(direct.state, CallState::Active);
        let queued = history.get(&CallId("queued".into())).unwrap().unwrap();
        assert_eq!(queued.state, CallState::Ended);
        // What start-up does after a crash.
        assert_eq!(history.mark_interrupted(at(99)).unwrap(), 1);
        assert_eq!(history.recent(10).unwrap().len(), 2);
    }

    #[test]
    fn a_garbage_file_is_a_clear_error() {
        let (_dir, path) = temp_db();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            b"this is not a database at all, just some text. ".repeat(100),
        )
        .unwrap();
        let err = History::open(&path).unwrap_err();
        assert!(matches!(err, StorageError::NotADatabase { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("history.sqlite3"), "{message}");
        assert!(message.contains("not a readable call history"), "{message}");
    }

    #[test]
    fn a_version_1_history_is_migrated_and_keeps_its_calls() {
        let (_dir, path) = temp_db();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO calls (id, direction, state, remote_uri, local_uri, started_at, \
             sip_call_id) VALUES ('old', 'inbound', 'ended', 'sip:a@b', 'sip:me@c', \
             '2026-11-01T10:00:00Z', 'x@y')",
            [],
        )
        .unwrap();
        drop(conn);
        let mut history = History::open(&path).unwrap();
        let old = history.get(&CallId("old".into())).unwrap().expect("kept");
        assert_eq!(
            (old.remote_uri.as_str(), old.bridged_with.as_ref()),
            ("sip:a@b", None)
        );
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        // And the new column takes values.
        let mut call = old;
        call.bridged_with = Some(CallId("leg".into()));
        history.upsert(&call).unwrap();
        assert_eq!(history.get(&call.id).unwrap(), Some(call));
    }

    #[test]
    fn a_database_from_a_newer_build_is_refused() {
        let (_dir, path) = temp_db();
        drop(History::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let err = History::open(&path).unwrap_err();
        assert!(
            matches!(err, StorageError::TooNew { found, .. } if found == SCHEMA_VERSION + 1),
            "{err:?}"
        );
    }

    #[test]
    fn a_damaged_row_is_an_error_not_a_panic() {
        let (_dir, path) = temp_db();
        let mut history = History::open(&path).unwrap();
        history.upsert(&call("x", 0, CallState::Ended)).unwrap();
        history
            .conn
            .execute(
                "UPDATE calls SET state = 'exploded', sip_status = 99999",
                [],
            )
            .unwrap();
        let err = history.get(&CallId("x".into())).unwrap_err();
        assert!(
            matches!(
                err,
                StorageError::BadRow {
                    column: "state",
                    ..
                }
            ),
            "{err:?}"
        );
        history
            .conn
            .execute("UPDATE calls SET state = 'ended'", [])
            .unwrap();
        let err = history.recent(5).unwrap_err();
        assert!(
            matches!(
                err,
                StorageError::BadRow {
                    column: "sip_status",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
