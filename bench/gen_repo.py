"""Writes a git repository of N Terraform projects for the matrix benchmark
(scripts/bench.sh), deterministic, with two commits: the base, and a change
touching one shared module, one nested module and a handful of projects.

  gen_repo.py DIR N

Layout: modules/shared-00..49 (each nested module calls the next one down,
so a change deep in the chain reaches many projects), projects/p0000..pNNNN
each calling two shared modules and `depends_on` an earlier project, and a
phasegate.yml listing every project in three environments.
"""
import os, subprocess, sys

root, n = sys.argv[1], int(sys.argv[2])
modules = 50


def write(rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def git(*args):
    subprocess.run(["git", "-C", root, *args], check=True, stdout=subprocess.DEVNULL)


for m in range(modules):
    call = (f'module "next" {{\n  source = "../shared-{m + 1:02d}"\n}}\n' if m % 10 != 9 and m + 1 < modules else "")
    write(f"modules/shared-{m:02d}/main.tf",
          f'variable "name" {{\n  type = string\n}}\n{call}resource "terraform_data" "m" {{\n  input = var.name\n}}\n')
for p in range(n):
    a, b = p % modules, (p * 7 + 3) % modules
    write(f"projects/p{p:04d}/main.tf",
          f'module "a" {{\n  source = "../../modules/shared-{a:02d}"\n  name   = "p{p}"\n}}\n'
          f'module "b" {{\n  source = "../../modules/shared-{b:02d}"\n  name   = "p{p}b"\n}}\n')
    write(f"projects/p{p:04d}/versions.tf", 'terraform {\n  required_version = ">= 1.0"\n}\n')
    for env in ("dev", "staging", "prod"):
        write(f"projects/p{p:04d}/{env}.tfvars", f'name = "p{p}-{env}"\n')
lines = ["version: 1", "engine:", "  kind: terraform", "environments:",
         "  - name: dev", "  - name: staging", "    reviewers_required: true",
         "  - name: prod", "    reviewers_required: true", "    protected: true", "projects:"]
for p in range(n):
    lines.append(f"  - name: p{p:04d}")
    lines.append(f"    dir: projects/p{p:04d}")
    if p % 10 == 5:
        lines.append(f"    depends_on: [p{p - 5:04d}]")
write("phasegate.yml", "\n".join(lines) + "\n")
git("init", "-q", "-b", "main")
git("-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "add", "-A")
git("-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-q", "-m", "base")
for rel in ["modules/shared-47/main.tf", "modules/shared-13/main.tf"] + [f"projects/p{p:04d}/dev.tfvars" for p in range(0, n, n // 5)]:
    with open(os.path.join(root, rel), "a") as f:
        f.write("# changed\n")
git("-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-q", "-am", "change")
