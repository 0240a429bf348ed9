//! Attachments (contract §1.6, §3.3, §3.4, CLIENT §7; W13): files uploaded to a ticket. The
//! bytes live in a [`crate::ports::FileStore`] under a server-generated key; the row keeps
//! the client's cleaned name for display and downloads.

use super::collaboration::{found, page_of, ticket_link_with_relation, Link, Listed};
use crate::activity::{ActionObject, NewActivity, Verb};
use crate::error::{DomainError, DomainResult, FieldError};
use crate::listing::Params;
use crate::model::*;
use crate::policy::{self, Actor};
use crate::ports::{Clock, CollaborationWork, NewAttachment, RowFilter, RowOrder};

pub const FILTERS: &[&str] = &["ticket", "user", "created_at__range"];

/// Longest file name kept (characters); longer names are shortened, keeping the extension.
pub const MAX_FILE_NAME_CHARS: usize = 200;

/// The client's file name made harmless (§1.6): only the last path segment, blanks trimmed,
/// spaces as `_`, and nothing but letters, digits, `_`, `-` and `.`; no leading dots (so
/// never `..` nor a hidden file). An empty result becomes `file`.
pub fn clean_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let kept: String = base
        .chars()
        .map(|c| if c == ' ' { '_' } else { c })
        .filter(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect();
    let kept = kept.trim_start_matches('.').to_string();
    let mut name = if kept.is_empty() {
        "file".to_string()
    } else {
        kept
    };
    if name.chars().count() > MAX_FILE_NAME_CHARS {
        let ext: String = match name.rfind('.') {
            Some(dot) if name.len() - dot <= 16 => name[dot..].to_string(),
            _ => String::new(),
        };
        let stem: String = name
            .chars()
            .take(MAX_FILE_NAME_CHARS - ext.chars().count())
            .collect();
        name = format!("{stem}{ext}");
    }
    name
}

/// A file the HTTP layer has streamed into the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpload {
    pub storage_key: String,
    /// Already cleaned with [`clean_file_name`].
    pub file_name: String,
    pub file_size: i64,
    pub mime_type: Option<String>,
}

/// What the upload form carried: the file (if any) and whether the file part was empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadInput {
    Missing,
    Empty,
    Stored(StoredUpload),
}

pub fn list_attachments(
    uow: &mut impl CollaborationWork,
    actor: &Actor,
    params: &Params,
) -> DomainResult<Listed<Attachment>> {
    let scope = policy::ticket_scope(actor);
    let filter = RowFilter::from_params(params, FILTERS);
    let page = page_of(params, uow.count_attachments(scope, &filter)?)?;
    let rows = uow.list_attachments(scope, &filter, RowOrder::from_params(params), page)?;
    Ok(Listed { rows, page })
}

pub fn get_attachment(
    uow: &mut impl CollaborationWork,
    actor: &Actor,
    id: AttachmentId,
) -> DomainResult<Attachment> {
    found(uow.attachment(policy::ticket_scope(actor), id)?)
}

/// Records an uploaded file: validation (file, ticket) first, then the policy (422T); the
/// row and its `attachment:create` activity. On any error the caller deletes the stored file.
pub fn create_attachment(
    uow: &mut impl CollaborationWork,
    clock: &dyn Clock,
    actor: &Actor,
    ticket: &Link,
    upload: &UploadInput,
) -> DomainResult<Attachment> {
    let mut errors = Vec::new();
    match upload {
        UploadInput::Missing => errors.push(FieldError::attribute(
            "upload",
            "No file was submitted.",
            "required",
        )),
        UploadInput::Empty => errors.push(FieldError::attribute(
            "upload",
            "The submitted file is empty.",
            "empty",
        )),
        UploadInput::Stored(_) => {}
    }
    let ticket = ticket_link_with_relation(uow, ticket, actor, &mut errors)?;
    let (Some((ticket, relation)), UploadInput::Stored(file), true) =
        (ticket, upload, errors.is_empty())
    else {
        return Err(DomainError::invalid(errors));
    };
    policy::may_contribute(actor, relation)?;
    let now = clock.now();
    let attachment = uow.insert_attachment(&NewAttachment {
        ticket: ticket.id,
        uploader: actor.id,
        storage_key: file.storage_key.clone(),
        file_name: file.file_name.clone(),
        file_size: file.file_size,
        mime_type: file.mime_type.clone(),
        at: now,
    })?;
    uow.record_activity(&NewActivity {
        actor: Some(actor.id),
        verb: Verb::AttachmentCreate,
        ticket: ticket.id,
        action: Some(ActionObject::Attachment(attachment.id)),
        at: now,
    })?;
    Ok(attachment)
}

/// Deletes an attachment's row (uploader or superuser, W13) with its `attachment:destroy`
/// activity naming the uploader (W27). Returns the storage key: the caller deletes the file
/// once the transaction has committed.
pub fn delete_attachment(
    uow: &mut impl CollaborationWork,
    clock: &dyn Clock,
    actor: &Actor,
    id: AttachmentId,
) -> DomainResult<String> {
    let attachment = found(uow.attachment(policy::ticket_scope(actor), id)?)?;
    let relation = uow.relation(attachment.ticket_id, actor.id)?;
    policy::may_delete_attachment(actor, relation, attachment.user_id)?;
    uow.delete_attachment(id)?;
    uow.record_activity(&NewActivity {
        actor: Some(actor.id),
        verb: Verb::AttachmentDestroy,
        ticket: attachment.ticket_id,
        action: Some(ActionObject::Profile(attachment.user_id)),
        at: clock.now(),
    })?;
    Ok(attachment.upload)
}

/// The attachment a download may serve (404 outside the visible set).
pub fn download(
    uow: &mut impl CollaborationWork,
    actor: &Actor,
    id: AttachmentId,
) -> DomainResult<Attachment> {
    get_attachment(uow, actor, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_cleaned_as_the_contract_says() {
        assert_eq!(clean_file_name("my report.pdf"), "my_report.pdf");
        assert_eq!(clean_file_name(" țеșт file.txt "), "țеșт_file.txt");
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("..\\..\\win.ini"), "win.ini");
        assert_eq!(clean_file_name(".."), "file");
        assert_eq!(clean_file_name(""), "file");
        assert_eq!(clean_file_name("a/"), "file");
        assert_eq!(clean_file_name(".bashrc"), "bashrc");
        assert_eq!(clean_file_name("<b>x</b> y.txt"), "b_y.txt");
        let long = format!("{}.pdf", "a".repeat(500));
        let cleaned = clean_file_name(&long);
        assert_eq!(cleaned.chars().count(), MAX_FILE_NAME_CHARS);
        assert!(cleaned.ends_with(".pdf"));
    }
}
