//! The embedded backend: one redb file, one fsynced write transaction per batch.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableError};

use super::Op;
use crate::Error;

#[derive(Debug)]
pub(super) struct RedbStore {
    db: Database,
    path: PathBuf,
}

fn definition(table: &str) -> TableDefinition<'_, &'static str, &'static [u8]> {
    TableDefinition::new(table)
}

impl RedbStore {
    pub(super) fn open(work_dir: &Path, file: &str) -> Result<Self, Error> {
        let path = work_dir.join(file);
        let failed = |reason: String| Error::Store {
            store: path.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(work_dir).map_err(|err| failed(err.to_string()))?;
        let db = Database::create(&path).map_err(|err| match err {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                failed("in use by another process (is another instance running?)".into())
            }
            err => failed(err.to_string()),
        })?;
        Ok(RedbStore { db, path })
    }

    pub(super) fn location(&self) -> String {
        self.path.display().to_string()
    }

    /// Every row of `table` as stored, in key order.
    pub(super) fn rows(&self, table: &'static str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let failed = |err: String| self.failed(err);
        let txn = self.db.begin_read().map_err(|e| failed(e.to_string()))?;
        let opened = match txn.open_table(definition(table)) {
            Ok(opened) => opened,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(err) => return Err(failed(err.to_string())),
        };
        let mut rows = Vec::new();
        for row in opened.iter().map_err(|e| failed(e.to_string()))? {
            let (key, value) = row.map_err(|e| failed(e.to_string()))?;
            rows.push((key.value().to_owned(), value.value().to_vec()));
        }
        Ok(rows)
    }

    /// Applies `ops` in one durable transaction.
    pub(super) fn write(&self, ops: &[Op]) -> Result<(), Error> {
        let failed = |err: String| self.failed(err);
        let txn = self.db.begin_write().map_err(|e| failed(e.to_string()))?;
        for op in ops {
            let mut opened = txn
                .open_table(definition(op.table))
                .map_err(|e| failed(e.to_string()))?;
            let written = match &op.value {
                Some(bytes) => opened.insert(op.key.as_str(), bytes.as_slice()).map(|_| ()),
                None => opened.remove(op.key.as_str()).map(|_| ()),
            };
            written.map_err(|e| failed(e.to_string()))?;
        }
        txn.commit().map_err(|e| failed(e.to_string()))
    }

    fn failed(&self, reason: String) -> Error {
        Error::Store {
            store: self.location(),
            reason,
        }
    }
}
