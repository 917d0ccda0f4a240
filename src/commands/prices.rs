//! `phasegate prices import`: reads downloaded price-list files, merges their
//! rows into a price-book YAML file and rewrites it in one rename. Reports
//! what was imported and what was left out (zero prices, conflicts).

use std::path::Path;

use crate::cli::{PriceListFormat, PricesAction, PricesArgs, PricesImportArgs};
use crate::error::{Error, ExitCode, Result};
use crate::gates::cost::import::{self, Format};
use crate::runner::output::{print_stdout, OutputSet};

/// Runs `prices <action>`.
pub fn run(args: PricesArgs) -> Result<ExitCode> {
    match args.action {
        PricesAction::Import(a) => import_files(a),
    }
}

fn import_files(args: PricesImportArgs) -> Result<ExitCode> {
    let format = match args.format {
        PriceListFormat::AwsOffer => Format::AwsOffer,
        PriceListFormat::AzureRetail => Format::AzureRetail,
        PriceListFormat::GoogleSkus => Format::GoogleSkus,
    };
    let fetched = match args.fetched {
        Some(d) => {
            chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| {
                Error::Input(format!("--fetched: `{d}` is not a date (YYYY-MM-DD)"))
            })?;
            d
        }
        None => chrono::Utc::now().date_naive().to_string(),
    };
    let book_name = args.book.display().to_string();
    let book = match std::fs::read_to_string(&args.book) {
        Ok(text) => import::read_book(&book_name, &text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => import::empty_book(format.provider()),
        Err(e) => return Err(Error::io(&args.book, e)),
    };
    let mut imports = Vec::new();
    for file in &args.files {
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
        imports.push(import::parse(
            format,
            &file.display().to_string(),
            &text,
            &fetched,
            &book,
        )?);
    }
    let rows: usize = imports.iter().map(|i| i.rows.len()).sum();
    if rows == 0 {
        return Err(Error::Input(format!(
            "{}: no price the book uses was found in the given files",
            args.files[0].display()
        )));
    }
    let merged = import::merge(book, &imports);
    let mut out = OutputSet::new();
    let name = args
        .book
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "book.yaml".into());
    out.add(&name, import::render_book(&merged));
    let dir = args.book.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    out.write_all(dir)?;
    let mut report = format!(
        "{book_name}: {rows} price(s) imported from {} file(s)\n",
        imports.len()
    );
    for i in &imports {
        for s in &i.skipped {
            report.push_str(&format!("left out: {s}\n"));
        }
    }
    print_stdout(&report);
    Ok(ExitCode::Success)
}
