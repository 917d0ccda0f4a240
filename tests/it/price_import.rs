//! `phasegate prices import`: each provider's machine-readable price-list
//! format (excerpts under tests/fixtures/prices/) becomes book rows with a
//! SKU per region and a provenance entry; Windows, BYOL, dedicated,
//! pre-installed software, reservations, Spot and zero prices never leak in.

use std::path::{Path, PathBuf};
use std::process::Command;

use phasegate::gates::cost::import::{self, Format, Imported};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/prices")
        .join(name)
}

fn embedded_book(provider: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("prices/{provider}.yaml")),
    )
    .unwrap()
}

fn parse(format: Format, name: &str, book: &str) -> Imported {
    let book = import::read_book("book.yaml", &embedded_book(book)).unwrap();
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    import::parse(format, name, &text, "2026-12-01", &book).unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts each (table, key, region, USD) was imported at that price.
fn expect(i: &Imported, rows: &[(&str, &str, &str, f64)]) {
    for (table, key, region, usd) in rows {
        assert_eq!(
            price(i, table, key, region),
            Some(*usd),
            "{table}.{key} in {region}: {:?}",
            i.rows
        );
    }
}

fn price(i: &Imported, table: &str, key: &str, region: &str) -> Option<f64> {
    i.rows
        .iter()
        .find(|r| r.table == table && r.key == key && r.region == region)
        .map(|r| r.usd)
}

#[test]
fn aws_offer_excerpt_from_opencost_keeps_gp3_and_drops_windows_byol_and_the_reservation() {
    let i = parse(Format::AwsOffer, "aws-ec2-opencost-excerpt.json", "aws");
    expect(&i, &[("ebs_storage", "gp3", "us-east-2", 0.08)]);
    let gp3 = i.rows.iter().find(|r| r.key == "gp3").unwrap();
    assert_eq!(gp3.sku, "M6UGCCQ3CDJQAA37.JRTCKXETXF.6YS6EN2CT7");
    assert_eq!(i.taken, "2023-03-22");
    assert!(i.list.contains("AmazonEC2") && i.list.contains("20230322145651"));
    // p3.8xlarge is Windows BYOL; m5.large's only term is an all-upfront reservation.
    assert!(
        i.rows.iter().all(|r| r.table != "ec2_instance"),
        "{:?}",
        i.rows
    );
}

#[test]
fn aws_ec2_import_takes_only_linux_shared_unlicensed_used_capacity_rows() {
    let i = parse(Format::AwsOffer, "aws-ec2-constructed.json", "aws");
    let t3: Vec<_> = i
        .rows
        .iter()
        .filter(|r| r.table == "ec2_instance" && r.key == "t3.micro")
        .collect();
    assert_eq!(t3.len(), 2, "{t3:?}");
    expect(
        &i,
        &[
            ("ec2_instance", "t3.micro", "us-east-1", 0.0104),
            ("ec2_instance", "t3.micro", "eu-west-1", 0.0114),
        ],
    );
    let m5 = i.rows.iter().find(|r| r.key == "m5.large").unwrap();
    assert_eq!((m5.vcpu, m5.memory_gib), (Some(2.0), Some(8.0)));
    assert!(price(&i, "ec2_instance", "c5.large", "us-east-1").is_none());
    expect(
        &i,
        &[
            ("ebs_iops", "io1", "us-east-1", 0.065),
            ("nat_gateway", "hourly", "us-east-1", 0.045),
            ("nat_gateway", "data_processed", "us-east-1", 0.045),
        ],
    );
}

#[test]
fn aws_rds_elb_and_s3_offers_map_to_their_tables() {
    let rds = parse(Format::AwsOffer, "aws-rds-constructed.json", "aws");
    assert_eq!(
        price(
            &rds,
            "rds_instance",
            "db.t3.micro/mysql/single-az",
            "us-east-1"
        ),
        Some(0.017)
    );
    assert_eq!(
        price(
            &rds,
            "rds_instance",
            "db.t3.micro/postgres/multi-az",
            "us-east-1"
        ),
        Some(0.036)
    );
    // Oracle BYOL and SQL Server (license included) never come in.
    assert_eq!(
        rds.rows
            .iter()
            .filter(|r| r.table == "rds_instance")
            .count(),
        2
    );
    expect(
        &rds,
        &[("rds_storage", "gp2/single-az", "us-east-1", 0.115)],
    );
    assert!(
        rds.skipped.iter().any(|s| s.contains("zero price")),
        "{:?}",
        rds.skipped
    );

    let elb = parse(Format::AwsOffer, "aws-elb-constructed.json", "aws");
    expect(
        &elb,
        &[
            ("load_balancer", "application", "us-east-1", 0.0225),
            ("load_balancer", "application_lcu", "us-east-1", 0.008),
        ],
    );

    let s3 = parse(Format::AwsOffer, "aws-s3-constructed.json", "aws");
    // The first storage tier, and requests per 1,000 as the book counts them.
    expect(&s3, &[("s3", "storage_standard", "us-east-1", 0.023)]);
    let put = price(&s3, "s3", "put_requests", "us-east-1").unwrap();
    assert!((put - 0.005).abs() < 1e-12, "{put}");
}

#[test]
fn azure_retail_prices_import_linux_and_windows_vms_and_disk_tiers_without_spot() {
    let i = parse(
        Format::AzureRetail,
        "azure-retail-constructed.json",
        "azure",
    );
    expect(
        &i,
        &[
            ("vm_linux", "Standard_D2s_v3", "eastus", 0.096),
            ("vm_linux", "Standard_D2s_v3", "westeurope", 0.11),
            ("vm_windows", "Standard_D2s_v3", "eastus", 0.188),
            ("managed_disk", "Premium_LRS/128", "eastus", 19.71),
            ("managed_disk", "StandardSSD_LRS/128", "eastus", 9.6),
        ],
    );
    // Spot, Low Priority and the reservation would each disagree with 0.096.
    assert_eq!(
        i.rows.iter().filter(|r| r.table == "vm_linux").count(),
        2,
        "{:?}",
        i.rows
    );
    assert_eq!(i.taken, "2026-12-01");
}

#[test]
fn google_catalog_composes_standard_machine_types_from_core_and_ram_skus() {
    let i = parse(
        Format::GoogleSkus,
        "google-compute-skus-constructed.json",
        "google",
    );
    // n2-standard-2: 2 x 0.031611 + 8 GB x 0.004237
    let n2 = price(&i, "compute_instance", "n2-standard-2", "us-central1").unwrap();
    assert!(
        (n2 - (2.0 * 0.031611 + 8.0 * 0.004237)).abs() < 1e-12,
        "{n2}"
    );
    let row = i.rows.iter().find(|r| r.key == "n2-standard-2").unwrap();
    assert!(row.sku.contains("0001-0000-0001") && row.sku.contains("0001-0000-0002"));
    expect(
        &i,
        &[
            ("compute_disk", "pd-ssd", "us-central1", 0.17),
            ("compute_disk", "pd-ssd", "us-east1", 0.17),
        ],
    );
    // Preemptible, commitment, custom and regional-disk SKUs are not list prices for these rows.
    assert!(i
        .rows
        .iter()
        .all(|r| r.usd != 0.34 && !r.sku.contains("0001-0000-0003")));
}

#[test]
fn merged_rows_carry_skus_and_provenance_and_the_result_loads_as_a_book() {
    let book = import::read_book("aws.yaml", &embedded_book("aws")).unwrap();
    let i = parse(Format::AwsOffer, "aws-ec2-constructed.json", "aws");
    let merged = import::merge(book, &[i]);
    let text = import::render_book(&merged);
    assert!(text.contains("regions: [us-east-1, eu-west-1]"), "{text}");
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with("\"t3.micro\""))
        .unwrap();
    assert!(row.contains("eu-west-1: 0.0114"), "{row}");
    assert!(row.contains("from: aws-import-2026-11-20"), "{row}");
    assert!(row.contains("sku: {eu-west-1: \"TESTSKU"), "{row}");
    assert!(text
        .contains("aws-import-2026-11-20: {list: \"AWS Price List Bulk API offer file AmazonEC2"));
    // Hand-typed rows the import did not touch keep their own provenance.
    assert!(text.contains("from: aws-rds-page"));
    let reread = import::read_book("aws.yaml", &text).unwrap();
    assert_eq!(reread.tables["ec2_instance"]["t3.micro"].usd.len(), 2);
}

#[test]
fn malformed_price_list_names_file_line_and_column() {
    let book = import::empty_book(phasegate::gates::cost::Provider::Aws);
    let err = import::parse(
        Format::AwsOffer,
        "bad.json",
        "{\n  \"offerCode\": ,\n}",
        "2026-12-01",
        &book,
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("bad.json:2:"), "{err}");
    let err = import::parse(
        Format::AzureRetail,
        "x.json",
        "{\"skus\": []}",
        "2026-12-01",
        &book,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("not an Azure Retail Prices API response"),
        "{err}"
    );
}

/// `phasegate prices import --format aws-offer --book aws.yaml FILE` in `dir`.
fn import_aws(dir: &Path, file: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_phasegate"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args([
            "prices",
            "import",
            "--format",
            "aws-offer",
            "--book",
            "aws.yaml",
            file,
        ])
        .output()
        .unwrap()
}

#[test]
fn prices_import_command_rewrites_the_book_and_reports_what_it_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("aws.yaml");
    std::fs::write(&book, embedded_book("aws")).unwrap();
    let rds = fixture("aws-rds-constructed.json");
    let out = import_aws(dir.path(), rds.to_str().unwrap());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("3 price(s) imported from 1 file(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("left out: rds_storage.gp2/single-az in us-east-1"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&book).unwrap();
    assert!(text.contains("\"db.t3.micro/mysql/single-az\": {unit: hour, vcpu: 2, memory_gib: 1, usd: {us-east-1: 0.017}, from: aws-import-2026-11-18"), "{text}");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "[]").unwrap();
    let out = import_aws(dir.path(), "bad.json");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(&book).unwrap(),
        text,
        "a failed import wrote the book"
    );
}
