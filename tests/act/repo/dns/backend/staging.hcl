# Local state of dns in staging: the harness writes the absolute state directory
# in place of @STATE_DIR@ (each job checks out afresh; state must outlive it).
path = "@STATE_DIR@/dns/staging.tfstate"
