# Local state of dns in dev: the harness writes the absolute state directory
# in place of @STATE_DIR@ (each job checks out afresh; state must outlive it).
path = "@STATE_DIR@/dns/dev.tfstate"
