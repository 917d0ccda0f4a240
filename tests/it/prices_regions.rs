//! Prices for every region: `prices import` on recorded samples of each
//! provider's bulk price list (tests/fixtures/prices/regions/, three regions
//! each, test figures) gives one row per key with `usd` and `sku` per region;
//! the cost gate, run through the binary on that imported book
//! (`PHASEGATE_PRICES_DIR`), prices a plan in each of those regions with the
//! SKU named and leaves a region absent from the files unpriced with the
//! reason. Also: the refresh workflow's commands match the binary, and the
//! book stays within its byte budget.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::workflows::{repo, text};
use phasegate::gates::cost::import::Format;

fn sample(name: &str) -> String {
    repo()
        .join("tests/fixtures/prices/regions")
        .join(name)
        .display()
        .to_string()
}

/// A temporary copy of the committed book (`prices/*.yaml`): samples are
/// imported into it, never into the book itself.
fn book_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["aws.yaml", "google.yaml", "azure.yaml"] {
        std::fs::copy(repo().join("prices").join(name), dir.path().join(name)).unwrap();
    }
    dir
}

fn run(dir: &Path, args: &[&str], prices: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_phasegate"));
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("PHASEGATE_PRICES_DIR")
        .args(args);
    if let Some(p) = prices {
        cmd.env("PHASEGATE_PRICES_DIR", p);
    }
    cmd.output().unwrap()
}

/// `prices import` of the named samples into the copy's `book`.
fn import(books: &Path, format: &str, book: &str, files: &[&str]) -> String {
    let book = books.join(book).display().to_string();
    let paths: Vec<String> = files.iter().map(|f| sample(f)).collect();
    let mut args = vec![
        "prices",
        "import",
        "--format",
        format,
        "--fetched",
        "2026-12-01",
        "--book",
        &book,
    ];
    args.extend(paths.iter().map(String::as_str));
    let out = run(books, &args, None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `gate cost --format json` on one resource planned for creation, with the
/// provider configured for `region`.
fn gate_cost(
    provider: &str,
    region_key: &str,
    region: &str,
    resource: Value,
    prices: Option<&Path>,
) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let plan = json!({
        "format_version": "1.2",
        "terraform_version": "1.0.3",
        "planned_values": {"root_module": {}},
        "resource_changes": [resource],
        "configuration": {"provider_config": {provider: {
            "name": provider,
            "expressions": {region_key: {"constant_value": region}}
        }}}
    });
    std::fs::write(dir.path().join("plan.json"), plan.to_string()).unwrap();
    let out = run(
        dir.path(),
        &[
            "gate",
            "cost",
            "--plan-json",
            "plan.json",
            "--format",
            "json",
        ],
        prices,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn create(address: &str, after: Value) -> Value {
    let (rtype, name) = address.split_once('.').unwrap();
    json!({
        "address": address, "mode": "managed", "type": rtype, "name": name,
        "change": {"actions": ["create"], "before": null, "after": after,
                   "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}}
    })
}

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// One provider's case: the samples, the resource, and what each region of
/// the samples costs a month at the sample figures.
struct Case {
    format: &'static str,
    book: &'static str,
    files: &'static [&'static str],
    provider: &'static str,
    region_key: &'static str,
    /// The resource planned in a region (Azure names it on the resource).
    resource: fn(&str) -> Value,
    /// The row every region must be in, as `"key": {...` starts its line.
    row: &'static str,
    /// (region, monthly USD at the sample figures, SKU of the main line)
    priced: [(&'static str, f64, &'static str); 3],
    /// A region the samples do not hold, and the reason the gate gives.
    absent: (&'static str, &'static str),
}

fn check(case: &Case) {
    let books = book_copy();
    let report = import(books.path(), case.format, case.book, case.files);
    assert!(report.contains("price(s) imported"), "{report}");
    let text = std::fs::read_to_string(books.path().join(case.book)).unwrap();
    // One row for the key, a price and a SKU for each of the three regions.
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with(case.row))
        .collect();
    assert!(!rows.is_empty(), "{}: no row {}", case.book, case.row);
    let row = rows[0];
    let (usd, sku) = row.split_once(", sku: ").unwrap();
    for (region, _, code) in &case.priced {
        assert_eq!(usd.matches(&format!("{region}: ")).count(), 1, "{row}");
        assert!(sku.contains(&format!("{region}: \"{code}")), "{row}");
    }
    assert!(!row.contains(case.absent.0), "{row}");

    for (region, monthly, code) in &case.priced {
        let v = gate_cost(
            case.provider,
            case.region_key,
            region,
            (case.resource)(region),
            Some(books.path()),
        );
        let r = &v["resources"][0];
        assert_eq!(r["priced"], true, "{region}: {r}");
        assert_eq!(r["region"], *region);
        assert_eq!(r["monthly_after"], cents(*monthly), "{region}: {r}");
        assert_eq!(v["lower_bound"], false, "{region}: {v}");
        let source = r["lines_after"][0]["source"].as_str().unwrap();
        assert!(
            source.contains(&format!("SKU {code}")) && source.contains("(2026-"),
            "{region}: {source}"
        );
        // Without the imported book the embedded one prices only its first
        // region: the import is what priced this one.
        if region != &case.priced[0].0 {
            let embedded = gate_cost(
                case.provider,
                case.region_key,
                region,
                (case.resource)(region),
                None,
            );
            assert_eq!(embedded["resources"][0]["priced"], false, "{region}");
        }
    }

    let (region, reason) = case.absent;
    let v = gate_cost(
        case.provider,
        case.region_key,
        region,
        (case.resource)(region),
        Some(books.path()),
    );
    let r = &v["resources"][0];
    assert_eq!(r["priced"], false, "{r}");
    assert!(
        r["reasons"].as_array().unwrap().contains(&reason.into()),
        "{region}: {}",
        r["reasons"]
    );
    assert_eq!(v["lower_bound"], true);
}

#[test]
fn aws_offer_files_of_three_regions_price_each_region_and_sa_east_1_stays_unpriced() {
    check(&Case {
        format: "aws-offer",
        book: "aws.yaml",
        files: &[
            "aws-ec2-us-east-1.json",
            "aws-ec2-eu-west-1.json",
            "aws-ec2-ap-southeast-1.json",
        ],
        provider: "aws",
        region_key: "region",
        resource: |_| {
            create(
                "aws_instance.web",
                json!({"instance_type": "t3.micro",
                       "root_block_device": [{"volume_size": 8, "volume_type": "gp3"}]}),
            )
        },
        row: "\"t3.micro\":",
        priced: [
            (
                "us-east-1",
                730.0 * 0.0131 + 8.0 * 0.0917,
                "TESTSAMPLE0000001.",
            ),
            (
                "eu-west-1",
                730.0 * 0.0142 + 8.0 * 0.0968,
                "TESTSAMPLE0000005.",
            ),
            (
                "ap-southeast-1",
                730.0 * 0.0153 + 8.0 * 0.1019,
                "TESTSAMPLE0000008.",
            ),
        ],
        absent: (
            "sa-east-1",
            "no published price for t3.micro in sa-east-1 in the price book",
        ),
    });
}

#[test]
fn azure_retail_pages_of_three_regions_price_each_region_and_brazilsouth_stays_unpriced() {
    check(&Case {
        format: "azure-retail",
        book: "azure.yaml",
        files: &[
            "azure-vm-eastus-1.json",
            "azure-vm-eastus-2.json",
            "azure-vm-westeurope.json",
            "azure-vm-southeastasia.json",
            "azure-disks-eastus.json",
            "azure-disks-westeurope.json",
            "azure-disks-southeastasia.json",
        ],
        provider: "azurerm",
        region_key: "location",
        resource: |region| {
            create(
                "azurerm_linux_virtual_machine.web",
                json!({"size": "Standard_D2s_v3", "location": region,
                       "os_disk": [{"storage_account_type": "Premium_LRS", "disk_size_gb": 128}]}),
            )
        },
        row: "\"Standard_D2s_v3\":",
        priced: [
            ("eastus", 730.0 * 0.1031 + 21.24, "TESTSAMPLE01/0001 meter "),
            (
                "westeurope",
                730.0 * 0.1182 + 22.83,
                "TESTSAMPLE06/0006 meter ",
            ),
            (
                "southeastasia",
                730.0 * 0.1254 + 24.12,
                "TESTSAMPLE11/0011 meter ",
            ),
        ],
        absent: (
            "brazilsouth",
            "no published price for Standard_D2s_v3 in brazilsouth in the price book",
        ),
    });
}

#[test]
fn google_catalog_pages_of_three_regions_price_each_region_and_southamerica_east1_stays_unpriced() {
    check(&Case {
        format: "google-skus",
        book: "google.yaml",
        files: &["google-compute-skus-1.json", "google-compute-skus-2.json"],
        provider: "google",
        region_key: "region",
        resource: |_| {
            create(
                "google_compute_instance.web",
                json!({"machine_type": "n2-standard-2",
                       "boot_disk": [{"initialize_params": [{"size": 10, "type": "pd-balanced"}]}]}),
            )
        },
        row: "\"n2-standard-2\":",
        priced: [
            (
                "us-central1",
                730.0 * (2.0 * 0.033125 + 8.0 * 0.00444) + 10.0 * 0.105,
                "2 x 5A3E-0000-0001 + 8 GB x 5A3E-0000-0002",
            ),
            (
                "europe-west1",
                730.0 * (2.0 * 0.03647 + 8.0 * 0.00489) + 10.0 * 0.115,
                "2 x 5A3E-0000-0004 + 8 GB x 5A3E-0000-0005",
            ),
            (
                "asia-northeast1",
                730.0 * (2.0 * 0.04083 + 8.0 * 0.00547) + 10.0 * 0.128,
                "2 x 5A3E-0000-0007 + 8 GB x 5A3E-0000-0008",
            ),
        ],
        absent: (
            "southamerica-east1",
            "no published price for n2-standard-2 in southamerica-east1 in the price book",
        ),
    });
}

#[test]
fn local_zones_reservations_spot_and_keys_the_book_lacks_stay_out_of_the_book() {
    let books = book_copy();
    let report = import(
        books.path(),
        "aws-offer",
        "aws.yaml",
        &[
            "aws-ec2-us-east-1.json",
            "aws-ec2-eu-west-1.json",
            "aws-ec2-ap-southeast-1.json",
        ],
    );
    assert!(
        report.contains("left out: TESTSAMPLE0000004: location `US East (Boston)` (AWS Local Zone) is not a region"),
        "{report}"
    );
    let aws = std::fs::read_to_string(books.path().join("aws.yaml")).unwrap();
    // The first region stays first (where a resource with no region is priced).
    assert!(
        aws.contains("regions: [us-east-1, eu-west-1, ap-southeast-1]\n"),
        "{aws}"
    );
    assert!(!aws.contains("us-east-1-bos-1"));

    let report = import(
        books.path(),
        "google-skus",
        "google.yaml",
        &["google-compute-skus-1.json", "google-compute-skus-2.json"],
    );
    // The samples' N2 prices compose every n2 shape the book has, and no
    // other (a type the book has no row for never comes in).
    assert!(
        report.contains("price(s) imported from 2 file(s)"),
        "{report}"
    );
    let google = std::fs::read_to_string(books.path().join("google.yaml")).unwrap();
    assert!(!google.contains("5A3E-0000-0010"), "the Spot SKU came in");
    let azure_books = book_copy();
    import(
        azure_books.path(),
        "azure-retail",
        "azure.yaml",
        &["azure-vm-westeurope.json", "azure-disks-westeurope.json"],
    );
    let azure = std::fs::read_to_string(azure_books.path().join("azure.yaml")).unwrap();
    let row = azure
        .lines()
        .find(|l| l.trim_start().starts_with("\"Premium_LRS/128\":"))
        .unwrap();
    // The reservation meter (a lower figure) never prices the tier.
    assert!(
        row.contains("westeurope: 22.83") && !row.contains("13.7"),
        "{row}"
    );
}

#[test]
fn a_price_list_with_keys_the_book_lacks_adds_them_only_to_an_empty_book() {
    let dir = tempfile::tempdir().unwrap();
    // The committed book has no m7g.large; the empty book takes it.
    let file = dir.path().join("aws-ec2-eu-west-1-m7g.json");
    let mut offer: Value =
        serde_json::from_str(&std::fs::read_to_string(sample("aws-ec2-eu-west-1.json")).unwrap())
            .unwrap();
    for product in offer["products"].as_object_mut().unwrap().values_mut() {
        if product["attributes"]["instanceType"] == "t3.micro" {
            product["attributes"]["instanceType"] = "m7g.large".into();
        }
    }
    std::fs::write(&file, offer.to_string()).unwrap();
    let books = book_copy();
    let out = run(
        books.path(),
        &[
            "prices",
            "import",
            "--format",
            "aws-offer",
            "--book",
            "aws.yaml",
            file.to_str().unwrap(),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout.contains("left out: 1 price(s) for keys the book has no row for (ec2_instance 1)"),
        "{stdout}"
    );
    let book = std::fs::read_to_string(books.path().join("aws.yaml")).unwrap();
    assert!(!book.contains("m7g.large"));

    let empty = tempfile::tempdir().unwrap();
    let out = run(
        empty.path(),
        &[
            "prices",
            "import",
            "--format",
            "aws-offer",
            "--book",
            "aws.yaml",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let book = std::fs::read_to_string(empty.path().join("aws.yaml")).unwrap();
    assert!(book.contains("\"m7g.large\": {unit: hour"), "{book}");
}

#[test]
fn services_imported_one_at_a_time_on_the_same_day_keep_every_list_in_the_provenance() {
    let books = book_copy();
    import(
        books.path(),
        "aws-offer",
        "aws.yaml",
        &["aws-ec2-us-east-1.json", "aws-ec2-eu-west-1.json"],
    );
    // The ELB and S3 samples are both dated 2026-11-01 and imported one
    // after the other, as the workflow imports one offer at a time.
    let elb = repo().join("tests/fixtures/prices/aws-elb-constructed.json");
    let s3 = repo().join("tests/fixtures/prices/aws-s3-constructed.json");
    for file in [&elb, &s3] {
        let out = run(
            books.path(),
            &[
                "prices",
                "import",
                "--format",
                "aws-offer",
                "--book",
                "aws.yaml",
                file.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let book = std::fs::read_to_string(books.path().join("aws.yaml")).unwrap();
    let entry = |id: &str| {
        book.lines()
            .find(|l| l.trim_start().starts_with(&format!("{id}:")))
            .unwrap_or_else(|| panic!("no provenance {id}"))
            .to_string()
    };
    let shared = entry("aws-import-2026-11-01");
    assert!(
        shared.contains("AWSELB version 20261101000000")
            && shared.contains("AmazonS3 version 20261101000000"),
        "{shared}"
    );
    // Two lists: the address that leads to both.
    assert!(
        shared.contains(
            "url: \"https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/index.json\""
        ),
        "{shared}"
    );
    let lb = book
        .lines()
        .find(|l| l.trim_start().starts_with("\"application\":"))
        .unwrap();
    assert!(lb.contains("from: aws-import-2026-11-01"), "{lb}");
    let ec2 = entry("aws-import-2026-11-20");
    assert!(
        ec2.contains("AmazonEC2") && !ec2.contains("AWSELB"),
        "{ec2}"
    );
    // The whole book still loads as the embedded books do, and prices.
    let v = gate_cost(
        "aws",
        "region",
        "eu-west-1",
        create(
            "aws_instance.web",
            json!({"instance_type": "t3.micro",
                   "root_block_device": [{"volume_size": 8, "volume_type": "gp3"}]}),
        ),
        Some(books.path()),
    );
    assert_eq!(v["resources"][0]["priced"], true, "{v}");
}

#[test]
fn a_book_that_breaks_the_rules_in_phasegate_prices_dir_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("aws.yaml"),
        "provider: aws\nregions: [us-east-1, eu-west-1]\nfree_types: []\nprovenance:\n  p: {list: l, url: \"https://x\", taken: 2026-11-23, verified: \"no\"}\ntables:\n  ec2_instance:\n    t3.micro: {unit: hour, usd: {us-east-1: 0.01, eu-west-1: 0.011}, from: p}\n",
    )
    .unwrap();
    let plan = repo().join("tests/fixtures/cost/eu-west-1.json");
    let out = run(
        dir.path(),
        &["gate", "cost", "--plan-json", plan.to_str().unwrap()],
        Some(dir.path()),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("PHASEGATE_PRICES_DIR:")
            && text(&out).contains("ec2_instance.t3.micro: eu-west-1 has no SKU"),
        "{}",
        text(&out)
    );
}

// ---- the refresh workflow -------------------------------------------------

fn workflow() -> (String, Value) {
    let path = repo().join(".github/workflows/prices-refresh.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let v: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    (text, v)
}

/// Every `phasegate prices import ...` command in the workflow's scripts, as
/// words (quotes dropped, `"$dir"/*.json` kept as one word).
fn import_commands(v: &Value) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    for job in v["jobs"].as_object().unwrap().values() {
        for step in job["steps"].as_array().unwrap() {
            let Some(script) = step["run"].as_str() else {
                continue;
            };
            for line in script.lines() {
                if let Some(at) = line.find("target/release/phasegate prices import") {
                    let words = line[at..]
                        .split_whitespace()
                        .map(|w| w.replace('"', ""))
                        .collect();
                    commands.push(words);
                }
            }
        }
    }
    commands
}

#[test]
fn refresh_workflow_runs_weekly_and_by_hand_with_pinned_actions_and_least_permissions() {
    let (text, v) = workflow();
    let on = &v["on"];
    let cron = on["schedule"][0]["cron"].as_str().unwrap();
    assert_eq!(cron.split_whitespace().count(), 5, "{cron}");
    assert!(
        cron.split_whitespace().nth(4).unwrap() != "*",
        "weekly: a day of the week, not daily: {cron}"
    );
    assert!(on.get("workflow_dispatch").is_some());
    assert_eq!(v["permissions"], json!({}));
    let job = &v["jobs"]["refresh"];
    assert_eq!(
        job["permissions"],
        json!({"contents": "write", "pull-requests": "write"})
    );
    for step in job["steps"].as_array().unwrap() {
        if let Some(uses) = step["uses"].as_str() {
            let (_, pin) = uses.split_once('@').unwrap();
            assert!(
                pin.len() == 40 && pin.chars().all(|c| c.is_ascii_hexdigit()),
                "{uses} is not pinned by SHA"
            );
        }
    }
    // The price tests run on the refreshed book; when they fail the pull
    // request is still opened, as a draft that says so.
    let check = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "check")
        .expect("a step with id `check`");
    assert_eq!(check["continue-on-error"], true);
    assert!(check["run"]
        .as_str()
        .unwrap()
        .contains("cargo test --locked --test it -- cost_gate:: price_import:: prices_regions::"));
    assert!(text.contains("CHECK: ${{ steps.check.outcome }}") && text.contains("draft=(--draft)"));
    // The pull request is opened with gh and carries only the book's files.
    assert!(text.contains("gh pr create"));
    assert!(text.contains("git add prices/aws.yaml prices/azure.yaml prices/google.yaml"));
    // The Google key reaches curl only in a header, never in a URL.
    assert!(text.contains("X-goog-api-key: $GOOGLE_API_KEY"));
    assert!(!text.contains("key=$GOOGLE_API_KEY"));
}

#[test]
fn refresh_workflow_imports_with_the_binarys_formats_flags_and_books() {
    let (_, v) = workflow();
    let commands = import_commands(&v);
    let help = run(&repo(), &["prices", "import", "--help"], None);
    assert_eq!(help.status.code(), Some(0), "{}", text(&help));
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let mut formats = Vec::new();
    for words in &commands {
        let flag = |name: &str| {
            words
                .iter()
                .position(|w| w == name)
                .map(|i| words[i + 1].clone())
        };
        for w in words.iter().filter(|w| w.starts_with("--")) {
            assert!(
                help.contains(&format!("{w} ")),
                "{w} is not a flag of `prices import`: {words:?}"
            );
        }
        let format = flag("--format").unwrap();
        assert!(
            help.contains(&format!("{format}:"))
                || help.contains(&format!("{format},"))
                || help.contains(&format!(" {format}]")),
            "format {format} is not accepted: {help}"
        );
        let book = flag("--book").unwrap();
        let provider = match format.as_str() {
            "aws-offer" => "aws",
            "azure-retail" => "azure",
            "google-skus" => "google",
            other => panic!("unknown format {other}"),
        };
        assert_eq!(book, format!("prices/{provider}.yaml"));
        assert!(repo().join(&book).is_file(), "{book}");
        if provider != "aws" {
            assert!(
                flag("--fetched").is_some(),
                "{words:?}: no publication date in the list"
            );
        }
        // Files come last, from the lists the workflow downloaded.
        assert!(words.last().unwrap().ends_with("*.json"), "{words:?}");
        formats.push(format);
    }
    formats.sort();
    assert_eq!(formats, ["aws-offer", "azure-retail", "google-skus"]);
}

#[test]
fn refresh_workflow_downloads_exactly_the_services_the_importer_reads() {
    let (_, v) = workflow();
    let env = &v["jobs"]["refresh"]["env"];
    let list = |key: &str, sep: char| -> Vec<String> {
        env[key]
            .as_str()
            .unwrap()
            .split(sep)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    assert_eq!(list("AWS_OFFERS", ' '), Format::AwsOffer.services());
    assert_eq!(list("AZURE_SERVICES", ','), Format::AzureRetail.services());
    assert_eq!(list("GOOGLE_SERVICES", ' '), Format::GoogleSkus.services());
}

// ---- the book's size budget -----------------------------------------------

/// The byte budget of `prices/*.yaml` together (prices/README.md, "Size").
const BOOK_BUDGET_BYTES: u64 = 1_572_864;

#[test]
fn the_price_book_stays_within_its_byte_budget() {
    let readme = std::fs::read_to_string(repo().join("prices/README.md")).unwrap();
    assert!(
        readme.contains("1,572,864 bytes"),
        "prices/README.md states the budget this test enforces"
    );
    let mut total = 0;
    for name in ["aws.yaml", "google.yaml", "azure.yaml"] {
        total += std::fs::metadata(repo().join("prices").join(name))
            .unwrap()
            .len();
    }
    assert!(
        total <= BOOK_BUDGET_BYTES,
        "prices/*.yaml is {total} bytes, over the budget of {BOOK_BUDGET_BYTES}"
    );
    // Sample SKUs are test data and never reach the book.
    for name in ["aws.yaml", "google.yaml", "azure.yaml"] {
        let text = std::fs::read_to_string(repo().join("prices").join(name)).unwrap();
        assert!(
            !text.contains("TESTSAMPLE") && !text.contains("5A3E-0000-"),
            "{name} holds sample prices"
        );
    }
}
