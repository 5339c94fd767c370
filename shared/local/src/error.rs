//! Errors of the embedded adapters, and how they become port errors.

use tollgate_domain::PortError;

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{context}: {source}")]
    Sqlite {
        context: String,
        #[source]
        source: rusqlite::Error,
    },
}

pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> PortError {
    let context = context.into();
    match source.kind() {
        std::io::ErrorKind::NotFound => PortError::NotFound(context),
        _ => PortError::other(context.clone(), LocalError::Io { context, source }),
    }
}

pub(crate) fn sql(context: impl Into<String>, source: rusqlite::Error) -> PortError {
    let context = context.into();
    let busy = matches!(
        &source,
        rusqlite::Error::SqliteFailure(e, _)
            if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    let err = LocalError::Sqlite {
        context: context.clone(),
        source,
    };
    if busy {
        PortError::unavailable(context, err)
    } else {
        PortError::other(context, err)
    }
}
