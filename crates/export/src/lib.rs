//! # Research Desk CSV exports
//!
//! The CSV adapter of the domain's [`ExportWriter`] port (contract §6.1): comma separator,
//! `\r\n` line ends, minimal quoting, UTF-8 without BOM, through the `csv` crate into any
//! [`std::io::Write`] (the HTTP layer hands it a bounded channel to the response body).
//!
//! Every cell is guarded against formula injection: a cell starting with `=`, `+`, `-`, `@`,
//! a tab or a carriage return is prefixed with `'`, so a spreadsheet shows it as text instead
//! of evaluating it.

use desk_domain::ports::ExportWriter;
use desk_domain::DomainError;
use std::borrow::Cow;
use std::io::Write;

/// The first characters a spreadsheet may read as the start of a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `cell`, or `'cell` when it could be read as a formula.
pub fn guard(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// CSV records into `W`.
pub struct CsvExportWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> CsvExportWriter<W> {
    pub fn new(out: W) -> Self {
        let inner = csv::WriterBuilder::new()
            .delimiter(b',')
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .has_headers(false)
            .buffer_capacity(64 * 1024)
            .from_writer(out);
        CsvExportWriter { inner }
    }

    /// The underlying writer, after flushing.
    pub fn into_inner(self) -> Result<W, DomainError> {
        self.inner
            .into_inner()
            .map_err(|e| DomainError::Storage(format!("export: {}", e.error())))
    }
}

fn failed(e: impl std::fmt::Display) -> DomainError {
    DomainError::Storage(format!("export: {e}"))
}

impl<W: Write> ExportWriter for CsvExportWriter<W> {
    fn write_record(&mut self, cells: &[&str]) -> Result<(), DomainError> {
        self.inner
            .write_record(cells.iter().map(|c| guard(c)).map(|c| match c {
                Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
                Cow::Owned(s) => Cow::Owned(s.into_bytes()),
            }))
            .map_err(failed)
    }

    fn finish(&mut self) -> Result<(), DomainError> {
        self.inner.flush().map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(records: &[&[&str]]) -> String {
        let mut w = CsvExportWriter::new(Vec::new());
        for r in records {
            w.write_record(r).unwrap();
        }
        w.finish().unwrap();
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn minimal_quoting_and_crlf() {
        assert_eq!(
            csv(&[
                &["Ticket", "Date"],
                &["a,b", "good, \"quoted\"\nnext"],
                &["", "x"]
            ]),
            "Ticket,Date\r\n\"a,b\",\"good, \"\"quoted\"\"\nnext\"\r\n,x\r\n"
        );
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(
            csv(&[&["=1+1", "+x", "-2", "@SUM(A1)", "\tx", "\rx", "a=b", "Zoë"]]),
            "'=1+1,'+x,'-2,'@SUM(A1),'\tx,\"'\rx\",a=b,Zoë\r\n"
        );
    }
}
